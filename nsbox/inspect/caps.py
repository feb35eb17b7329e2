"""Capability sets of a process as names (capabilities(7)), read from /proc/PID/status."""

from __future__ import annotations

# linux/capability.h, in bit order (0..40 as of Linux 6.x).
CAP_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

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

