"""Capability sets of a process as names (capabilities(7)), read from /proc/PID/status."""

from __future__ import annotations

from ..kernel.caps import NAMES as CAP_NAMES  # linux/capability.h, in bit order

# status field -> the name of the set (OCI's names)
SETS = (("CapEff", "effective"), ("CapPrm", "permitted"), ("CapInh", "inheritable"),
        ("CapBnd", "bounding"), ("CapAmb", "ambient"))


def names(mask: int) -> list[str]:
    """Bit mask -> names; bits newer than this table show as ``CAP_<bit>``."""
    out = []
    bit = 0
    while mask:
        if mask & 1:
            out.append(CAP_NAMES[bit] if bit < len(CAP_NAMES) else f"CAP_{bit}")
        mask >>= 1
        bit += 1
    return out


def from_status(status: dict[str, str]) -> dict[str, list[str]]:
    """{"effective": [...], ...} from a parsed /proc/PID/status."""
    out: dict[str, list[str]] = {}
    for field, name in SETS:
        raw = status.get(field)
        out[name] = names(int(raw, 16)) if raw else []
    return out

