"""``nsbox-runc checkpoint`` / ``restore``: refused with the reason.

They need CRIU, and Debian 12's CRIU 3.17 fails ``criu check`` on this kernel
(its vdso handling): a checkpoint could not be taken or restored reliably."""

from __future__ import annotations

from ..errors import NsboxError


def main(name: str, argv: list[str]) -> int:
    raise NsboxError(f"{name}: not available: it needs CRIU, and CRIU 3.17 (Debian 12) fails `criu check` "
                     "on this kernel (vdso); nsbox-runc will support it once a working CRIU can be built "
                     "and tested")
