"""linux.sysctl: kernel parameters of the container's own namespaces.

Written by init through /proc/sys (the container's procfs, mounted by the
plan) after pivot_root and before the read-only paths (/proc/sys is usually
one of them).  Only parameters that belong to a namespace the container owns
are allowed (``check``, as runc validates them): the rest would change the host.
"""

from __future__ import annotations

import os

from ..kernel.errors import KernelError

IPC_KEYS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
            "kernel.shmmni", "kernel.shm_rmid_forced")


def namespace_of(key: str) -> str | None:
    """The namespace a sysctl belongs to, or None if it is machine-wide."""
    if key in IPC_KEYS or key.startswith("fs.mqueue."):
        return "ipc"
    if key.startswith("net."):
        return "network"
    if key in ("kernel.hostname", "kernel.domainname"):
        return "uts"
    return None


def check(sysctl: dict[str, str], new: set[str]) -> list[tuple[str, str]]:
    """(key, problem) for each sysctl the container may not set."""
    out = []
    for key in sysctl:
        ns = namespace_of(key)
        if ns is None:
            out.append((key, "not namespaced: it would change the host"))
        elif ns not in new:
            out.append((key, f"needs a new {ns} namespace"))
    return out


def apply(sysctl: dict[str, str]) -> None:
    for key, value in sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, value.encode())
            finally:
                os.close(fd)
        except OSError as e:
            raise KernelError(e.errno or 0, f"sysctl {key}={value!r} (write `{path}`)", path) from None
