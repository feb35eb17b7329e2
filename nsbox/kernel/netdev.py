"""The one network call the start-up path needs: bring an interface up.

Done with an ioctl (SIOCGIFFLAGS/SIOCSIFFLAGS) so that a container with only
loopback does not pay for importing a netlink library.
"""

from __future__ import annotations

import fcntl
import struct

from .errors import KernelError

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def link_up(name: str = "lo") -> None:
    import _socket

    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC, 0)
    try:
        req = struct.pack("16sH14x", name.encode(), 0)
        try:
            res = fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req)
            flags = struct.unpack("16sH14x", res)[1]
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", name.encode(), flags | IFF_UP))
        except OSError as e:
            raise KernelError(e.errno or 0, f"set link `{name}` up") from None
    finally:
        s.close()
