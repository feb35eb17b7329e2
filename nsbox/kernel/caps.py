"""Capabilities: names <-> numbers, capget/capset, the bounding and ambient sets.

Names and numbers are capabilities(7)'s (linux/capability.h), CAP_CHOWN (0) to
CAP_CHECKPOINT_RESTORE (40).  A set is an int bit mask (bit N = capability N),
the form /proc/PID/status shows in hex (CapEff: 000001ffffffffff).

capget(2)/capset(2) use _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
The bounding set is changed with prctl(PR_CAPBSET_DROP), the ambient set with
prctl(PR_CAP_AMBIENT) (kernel 4.3+).
"""

from __future__ import annotations

import ctypes

from .errors import KernelError
from .libc import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAP_AMBIENT_RAISE,
    PR_CAPBSET_DROP,
    PR_CAPBSET_READ,
    SYS,
    libc,
    syscall,
)

NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
NUMBERS = {name: i for i, name in enumerate(NAMES)}
LAST_KNOWN = len(NAMES) - 1

_VERSION_3 = 0x20080522
PR_CAP_AMBIENT_IS_SET = 1


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def canonical(name: str) -> str | None:
    """``net_raw``, ``NET_RAW``, ``cap_net_raw`` -> ``CAP_NET_RAW``; None if unknown."""
    n = name.strip().upper()
    if not n.startswith("CAP_"):
        n = "CAP_" + n
    return n if n in NUMBERS else None


def number(name: str) -> int:
    """The number of a capability name (any spelling canonical() takes); KeyError if unknown."""
    n = canonical(name)
    if n is None:
        raise KeyError(name)
    return NUMBERS[n]


def name_of(num: int) -> str:
    """CAP_X for a known number; ``CAP_<num>`` for one newer than this table (kernel > ours)."""
    return NAMES[num] if 0 <= num <= LAST_KNOWN else f"CAP_{num}"


def to_mask(names: tuple[str, ...] | list[str]) -> int:
    """Names -> bit mask; KeyError(name) for an unknown name."""
    mask = 0
    for n in names:
        mask |= 1 << number(n)
    return mask


def to_names(mask: int) -> list[str]:
    """Bit mask -> names, in capability order."""
    out = []
    bit = 0
    while mask >> bit:
        if mask >> bit & 1:
            out.append(name_of(bit))
        bit += 1
    return out


def parse_hex(text: str) -> int:
    """A /proc/PID/status mask (``000001ffffffffff``) -> int."""
    return int(text.strip() or "0", 16)


STATUS_FIELDS = (("CapInh", "inheritable"), ("CapPrm", "permitted"), ("CapEff", "effective"),
                 ("CapBnd", "bounding"), ("CapAmb", "ambient"))


def status_sets(status: str) -> dict[str, list[str]]:
    """The five sets named from the text of /proc/PID/status (what ``nsbox inspect`` shows).

    ``{"effective": ["CAP_CHOWN", ...], "bounding": [...], ...}``; a set missing
    from the text (ambient before 4.3) is absent from the result."""
    fields = dict(STATUS_FIELDS)
    out: dict[str, list[str]] = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in fields:
            out[fields[key]] = to_names(parse_hex(value))
    return out


def process_sets(pid: int | str = "self", proc: str = "/proc") -> dict[str, list[str]]:
    """status_sets() of a live process (``proc`` is a parameter so tests use a fake tree)."""
    with open(f"{proc}/{pid}/status") as f:
        return status_sets(f.read())


def both_sides(pid: int | str, proc: str = "/proc", host_userns: str | None = None) -> dict[str, object]:
    """What ``nsbox inspect`` shows: a process's capabilities inside its user
    namespace, and what they are worth in the host's (initial) user namespace.

    user_namespaces(7): capabilities hold only within the process's own user
    namespace (and those it owns), so a process in a child user namespace has
    none over the host's resources, whatever its sets say.  ``host_userns`` is
    the ``user:[inode]`` link of the host's namespace (default: /proc/1's, else ours)."""
    import os

    sets = process_sets(pid, proc)
    ns = os.readlink(f"{proc}/{pid}/ns/user")
    if host_userns is None:
        try:
            host_userns = os.readlink(f"{proc}/1/ns/user")
        except OSError:
            host_userns = os.readlink(f"{proc}/self/ns/user")
    same = ns == host_userns
    return {"user_namespace": ns, "host_user_namespace": same, "inside": sets,
            "effective_on_host": list(sets.get("effective", [])) if same else []}


def all_mask(last: int) -> int:
    return (1 << (last + 1)) - 1


def last_cap(proc: str = "/proc") -> int:
    """The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap)."""
    try:
        with open(f"{proc}/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return probe_last_cap()


def probe_last_cap() -> int:
    """Same answer without /proc: PR_CAPBSET_READ fails with EINVAL past the last one."""
    n = 0
    while n < 63 and libc.prctl(PR_CAPBSET_READ, n + 1, 0, 0, 0) >= 0:
        n += 1
    return n


# -- the calling thread's sets ------------------------------------------------

def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of ``pid`` (0: the caller)."""
    hdr = _Header(_VERSION_3, pid)
    data = (_Data * 2)()
    if syscall(SYS["capget"], ctypes.byref(hdr), data) != 0:
        raise KernelError(ctypes.get_errno(), f"capget pid {pid}" if pid else "capget")

    def join(field: str) -> int:
        return getattr(data[0], field) | getattr(data[1], field) << 32

    return join("effective"), join("permitted"), join("inheritable")


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set the caller's three sets at once (capset(2): effective must be within permitted)."""
    hdr = _Header(_VERSION_3, 0)
    data = (_Data * 2)()
    for i in (0, 1):
        data[i].effective = effective >> (32 * i) & 0xFFFFFFFF
        data[i].permitted = permitted >> (32 * i) & 0xFFFFFFFF
        data[i].inheritable = inheritable >> (32 * i) & 0xFFFFFFFF
    if syscall(SYS["capset"], ctypes.byref(hdr), data) != 0:
        raise KernelError(ctypes.get_errno(),
                          f"capset effective={effective:#x} permitted={permitted:#x} "
                          f"inheritable={inheritable:#x}")


def bounding_has(cap: int) -> bool:
    r = libc.prctl(PR_CAPBSET_READ, cap, 0, 0, 0)
    if r < 0:
        raise KernelError(ctypes.get_errno(), f"prctl PR_CAPBSET_READ {name_of(cap)}")
    return bool(r)


def bounding() -> int:
    """The caller's bounding set as a mask."""
    mask = 0
    for cap in range(probe_last_cap() + 1):
        if libc.prctl(PR_CAPBSET_READ, cap, 0, 0, 0) > 0:
            mask |= 1 << cap
    return mask


def bounding_drop(cap: int) -> None:
    """Remove one capability from the bounding set (needs CAP_SETPCAP)."""
    if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
        raise KernelError(ctypes.get_errno(), f"prctl PR_CAPBSET_DROP {name_of(cap)}")


def bounding_limit(keep: int, last: int) -> None:
    """Drop every capability up to ``last`` that is not in ``keep``."""
    for cap in range(last + 1):
        if not keep >> cap & 1:
            bounding_drop(cap)


def ambient_clear() -> None:
    if libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0:
        raise KernelError(ctypes.get_errno(), "prctl PR_CAP_AMBIENT_CLEAR_ALL")


def ambient_raise(cap: int) -> None:
    """Add to the ambient set: the capability must be permitted and inheritable (prctl(2))."""
    if libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0:
        raise KernelError(ctypes.get_errno(), f"prctl PR_CAP_AMBIENT_RAISE {name_of(cap)}",
                          hint="an ambient capability must also be permitted and inheritable")


def ambient() -> int:
    mask = 0
    for cap in range(probe_last_cap() + 1):
        if libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0:
            mask |= 1 << cap
    return mask
