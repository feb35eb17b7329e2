"""mount(2), umount2(2), pivot_root(2) and the MS_* flags, by name.

Errors name both ends of a mount, as crun does:
``mount `proc` to `/proc`: Operation not permitted``.
"""

from __future__ import annotations

import ctypes

from .errors import KernelError
from .libc import SYS, b, libc, syscall

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

MNT_FORCE = 1
MNT_DETACH = 2
MNT_EXPIRE = 4
UMOUNT_NOFOLLOW = 8

PROPAGATION = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE

_FLAG_NAMES = {
    MS_RDONLY: "MS_RDONLY", MS_NOSUID: "MS_NOSUID", MS_NODEV: "MS_NODEV", MS_NOEXEC: "MS_NOEXEC",
    MS_SYNCHRONOUS: "MS_SYNCHRONOUS", MS_REMOUNT: "MS_REMOUNT", MS_MANDLOCK: "MS_MANDLOCK",
    MS_DIRSYNC: "MS_DIRSYNC", MS_NOSYMFOLLOW: "MS_NOSYMFOLLOW", MS_NOATIME: "MS_NOATIME",
    MS_NODIRATIME: "MS_NODIRATIME", MS_BIND: "MS_BIND", MS_MOVE: "MS_MOVE", MS_REC: "MS_REC",
    MS_SILENT: "MS_SILENT", MS_UNBINDABLE: "MS_UNBINDABLE", MS_PRIVATE: "MS_PRIVATE",
    MS_SLAVE: "MS_SLAVE", MS_SHARED: "MS_SHARED", MS_RELATIME: "MS_RELATIME",
    MS_STRICTATIME: "MS_STRICTATIME", MS_LAZYTIME: "MS_LAZYTIME",
}

# OCI / mount(8) option names -> (clear?, flag).  Options not in this table
# (and not in PROPAGATION_OPTIONS) are filesystem data, joined with commas.
OPTION_FLAGS: dict[str, tuple[bool, int]] = {
    "defaults": (False, 0), "rw": (True, MS_RDONLY), "ro": (False, MS_RDONLY),
    "suid": (True, MS_NOSUID), "nosuid": (False, MS_NOSUID),
    "dev": (True, MS_NODEV), "nodev": (False, MS_NODEV),
    "exec": (True, MS_NOEXEC), "noexec": (False, MS_NOEXEC),
    "sync": (False, MS_SYNCHRONOUS), "async": (True, MS_SYNCHRONOUS),
    "dirsync": (False, MS_DIRSYNC), "remount": (False, MS_REMOUNT),
    "mand": (False, MS_MANDLOCK), "nomand": (True, MS_MANDLOCK),
    "atime": (True, MS_NOATIME), "noatime": (False, MS_NOATIME),
    "diratime": (True, MS_NODIRATIME), "nodiratime": (False, MS_NODIRATIME),
    "bind": (False, MS_BIND), "rbind": (False, MS_BIND | MS_REC),
    "relatime": (False, MS_RELATIME), "norelatime": (True, MS_RELATIME),
    "strictatime": (False, MS_STRICTATIME), "nostrictatime": (True, MS_STRICTATIME),
    "lazytime": (False, MS_LAZYTIME), "nolazytime": (True, MS_LAZYTIME),
    "symfollow": (True, MS_NOSYMFOLLOW), "nosymfollow": (False, MS_NOSYMFOLLOW),
    "silent": (False, MS_SILENT), "loud": (True, MS_SILENT),
}

PROPAGATION_OPTIONS: dict[str, int] = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}


def flag_names(flags: int) -> str:
    """``MS_BIND|MS_REC`` for printing (runc stringifyMountFlags)."""
    names = [name for bit, name in _FLAG_NAMES.items() if flags & bit]
    rest = flags & ~sum(_FLAG_NAMES)
    if rest:
        names.append(hex(rest))
    return "|".join(names) or "0"


def parse_options(options: tuple[str, ...] | list[str]) -> tuple[int, int, str]:
    """Split mount options into (flags, propagation flags, data string)."""
    flags = 0
    prop = 0
    data: list[str] = []
    for opt in options:
        entry = OPTION_FLAGS.get(opt)
        if entry is not None:
            clear, bit = entry
            flags = flags & ~bit if clear else flags | bit
        elif opt in PROPAGATION_OPTIONS:
            prop |= PROPAGATION_OPTIONS[opt]
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def mount(src: str | None, dst: str, fstype: str | None, flags: int = 0, data: str | None = None,
          label: str | None = None) -> None:
    """mount(2); ``label`` is how the error names the target (the container path)."""
    if libc.mount(b(src), b(dst), b(fstype), flags, b(data) if data else None) == -1:
        raise KernelError(ctypes.get_errno(), mount_op(src, dst, fstype, flags, label), dst)


def mount_op(src: str | None, dst: str, fstype: str | None, flags: int, label: str | None = None) -> str:
    """How a failed mount(2) is named: both ends, or the flags of a remount or
    propagation change (crun's "mount `%s` to `%s`")."""
    what = src or fstype or "none"
    if flags & PROPAGATION and not flags & (MS_BIND | MS_REMOUNT):
        return f"set propagation {flag_names(flags & (PROPAGATION | MS_REC))} on `{label or dst}`"
    if flags & MS_REMOUNT:
        return f"remount `{label or dst}` with {flag_names(flags)}"
    return f"mount `{what}` to `{label or dst}`"


def umount(target: str, flags: int = 0, label: str | None = None) -> None:
    if libc.umount2(b(target), flags) == -1:
        raise KernelError(ctypes.get_errno(), f"umount `{label or target}`", target)


def pivot_root(new_root: str, put_old: str) -> None:
    if syscall(SYS["pivot_root"], b(new_root), b(put_old)) == -1:
        raise KernelError(ctypes.get_errno(), f"pivot_root `{new_root}`", new_root)
