"""Namespaces: unshare(2), setns(2), and the table of the eight kinds.

The kind names are the OCI ones (``linux.namespaces[].type``); ``proc`` is the
name of the link under /proc/PID/ns/ (see namespaces(7)).
"""

from __future__ import annotations

import ctypes
import os

from .errors import KernelError
from .libc import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWTIME,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    libc,
)

# OCI type -> (clone flag, /proc/PID/ns link name)
KINDS: dict[str, tuple[int, str]] = {
    "user": (CLONE_NEWUSER, "user"),
    "mount": (CLONE_NEWNS, "mnt"),
    "pid": (CLONE_NEWPID, "pid"),
    "network": (CLONE_NEWNET, "net"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "uts": (CLONE_NEWUTS, "uts"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
    "time": (CLONE_NEWTIME, "time"),
}

# The order namespaces are joined in (youki ORDERED_NAMESPACES): the user
# namespace first, as setns(2) requires to gain capabilities over the others;
# the mount namespace last, because joining it changes what paths mean.
JOIN_ORDER = ("user", "pid", "uts", "ipc", "network", "cgroup", "time", "mount")

PROC_TO_KIND = {link: kind for kind, (_, link) in KINDS.items()}

libc.unshare.argtypes = [ctypes.c_int]
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


def flag_names(flags: int) -> str:
    names = [f"CLONE_NEW{link.upper()}" for kind, (flag, link) in KINDS.items() if flags & flag]
    return "|".join(names) or "0"


def unshare(flags: int) -> None:
    if libc.unshare(flags) == -1:
        err = ctypes.get_errno()
        raise KernelError(err, f"unshare {flag_names(flags)}")


def setns(fd: int, kind: str, path: str | None = None) -> None:
    """Join the namespace behind ``fd``; ``kind`` checks the type (0 = any)."""
    flag = KINDS[kind][0] if kind else 0
    if libc.setns(fd, flag) == -1:
        err = ctypes.get_errno()
        raise KernelError(err, f"setns {kind} namespace `{path or fd}`", path)


def open_ns(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(e.errno or 0, f"open namespace `{path}`", path) from None


def ns_id(path: str) -> str:
    """The identity of a namespace link, ``net:[4026531840]``."""
    try:
        return os.readlink(path)
    except OSError as e:
        raise KernelError(e.errno or 0, f"readlink `{path}`", path) from None


def setns_flags(fd: int, flags: int, what: str) -> None:
    """setns(2) with several CLONE_NEW* flags: ``fd`` a pidfd (Linux >= 5.8), all
    of the target's namespaces joined at once, the user namespace first."""
    if libc.setns(fd, flags) == -1:
        err = ctypes.get_errno()
        raise KernelError(err, f"setns {flag_names(flags)} of {what}")
