"""The C library handle, syscall numbers and constants shared by the kernel layer.

ctypes is used because Python 3.11 (Debian 12) has no os.unshare/os.setns and no
mount/pivot_root at all.  Functions are looked up once, here.
"""

from __future__ import annotations

import ctypes
import os

# use_errno: ctypes saves errno right after the call so get_errno() is exact.
libc = ctypes.CDLL(None, use_errno=True)

_MACHINE = os.uname().machine

# Syscalls glibc 2.36 does not wrap (or wraps under a different name).
_SYSCALLS = {
    "x86_64": {
        "pivot_root": 155,
        "clone": 56,
        "pidfd_send_signal": 424,
        "pidfd_open": 434,
        "clone3": 435,
        "close_range": 436,
        "openat2": 437,
        "mount_setattr": 442,
        "open_tree": 428,
        "move_mount": 429,
        "landlock_create_ruleset": 444,
        "landlock_add_rule": 445,
        "landlock_restrict_self": 446,
        "seccomp": 317,
        "capget": 125,
        "capset": 126,
    },
    "aarch64": {
        "pivot_root": 41,
        "clone": 220,
        "pidfd_send_signal": 424,
        "pidfd_open": 434,
        "clone3": 435,
        "close_range": 436,
        "openat2": 437,
        "mount_setattr": 442,
        "open_tree": 428,
        "move_mount": 429,
        "landlock_create_ruleset": 444,
        "landlock_add_rule": 445,
        "landlock_restrict_self": 446,
        "seccomp": 277,
        "capget": 90,
        "capset": 91,
    },
}

SYS = _SYSCALLS.get(_MACHINE, _SYSCALLS["x86_64"])

syscall = libc.syscall
syscall.restype = ctypes.c_long


def errno() -> int:
    return ctypes.get_errno()


def b(s: str | bytes | None) -> bytes | None:
    """Encode a str argument for C (None stays NULL)."""
    if s is None or isinstance(s, bytes):
        return s
    return os.fsencode(s)


# clone(2)/unshare(2) flags
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_FS = 0x00000200
CLONE_FILES = 0x00000400
CLONE_SYSVSEM = 0x00040000

# prctl(2)
PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_GET_SECCOMP = 21
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
