"""linux.sysctl: kernel parameters of the container's own namespaces.

check() runs in the parent before fork, with runc's rules
(libcontainer/configs/validate sysctl): a parameter is accepted only when it
belongs to a namespace the container does not share with the caller (the host):
- IPC: kernel.msgmax, msgmnb, msgmni, sem, shmall, shmmax, shmmni, shm_rmid_forced, fs.mqueue.*;
- network: net.* (a namespace joined by path must not be the caller's own);
- UTS: kernel.domainname (kernel.hostname conflicts with the spec's hostname field).
Anything else (kernel.core_pattern, vm.*) is host-wide and refused.

apply() runs in init before pivot_root, through nsbox's own /proc: a sysctl
file under /proc/sys/net (ipc, uts) acts on the namespace of the process that
writes it, whichever procfs mount it is opened through (the container's root
filesystem cannot redirect the write), and the container's root may write
those of namespaces its user namespace owns (CAP_NET_ADMIN there).
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..kernel.errors import KernelError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .launch import Launch

IPC_KEYS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
            "kernel.shmmni", "kernel.shm_rmid_forced")
NS_LINK = {"network": "net", "ipc": "ipc", "uts": "uts"}
NS_NAME = {"network": "network", "ipc": "IPC", "uts": "UTS"}


def dotted(key: str) -> str:
    """sysctl(8) allows `/` as the separator (then dots are part of a name:
    net/ipv4/conf/eth0.100/forwarding); rules are written with dots."""
    return key.replace("/", ".") if "/" in key else key


def proc_path(key: str, where: str = "linux.sysctl") -> str:
    """/proc/sys/... for ``key``; raises ConfigError for a name that is not one."""
    parts = key.split("/") if "/" in key else key.split(".")
    if not key or any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise ConfigError(f"{where} `{key}`: not a kernel parameter name (e.g. net.ipv4.ping_group_range)")
    return "/proc/sys/" + "/".join(parts)


def namespace_of(key: str, where: str = "linux.sysctl") -> str:
    """The namespace kind ``key`` belongs to; ConfigError if it is host-wide."""
    name = dotted(key)
    if name in IPC_KEYS or name.startswith("fs.mqueue."):
        return "ipc"
    if name.startswith("net."):
        return "network"
    if name == "kernel.domainname":
        return "uts"
    if name == "kernel.hostname":
        raise ConfigError(f"{where} `{key}`: conflicts with the spec's hostname field (use --hostname)")
    raise ConfigError(f"{where} `{key}`: not a parameter of a namespace of the container's own "
                      "(it would change the host's); only net.*, kernel.msg*/sem/shm*, fs.mqueue.* and "
                      "kernel.domainname are")


def _same_as_ours(path: str, kind: str) -> bool:
    try:
        theirs = os.stat(path)
        mine = os.stat(f"/proc/self/ns/{NS_LINK[kind]}")
    except OSError as e:
        raise ConfigError(f"linux.namespaces {kind} `{path}`: {e.strerror}") from None
    return (theirs.st_dev, theirs.st_ino) == (mine.st_dev, mine.st_ino)


def check(launch: Launch) -> list[tuple[str, str, str]]:
    """(key, /proc/sys path, value) of each linux.sysctl entry, after the rules above."""
    out = []
    joined = dict(launch.join)
    for key, value in launch.linux.sysctl.items():
        path = proc_path(key)
        kind = namespace_of(key)
        if not isinstance(value, str) or "\0" in value:
            raise ConfigError(f"linux.sysctl `{key}`: the value must be a string")
        if kind not in launch.new and (kind not in joined or _same_as_ours(joined[kind], kind)):
            raise ConfigError(f"linux.sysctl `{key}`: the container shares the host's {NS_NAME[kind]} "
                              "namespace (it would change the host's setting)")
        out.append((key, path, value))
    return out


def apply(entries: list[tuple[str, str, str]]) -> None:
    """In init, in its namespaces, before pivot_root (see the module's docstring)."""
    for key, path, value in entries:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as e:
            raise KernelError(e.errno or 0, f"sysctl `{key}={value}`: open `{path}`", path) from None
        try:
            os.write(fd, value.encode())
        except OSError as e:
            raise KernelError(e.errno or 0, f"sysctl `{key}={value}`: write `{path}`", path) from None
        finally:
            os.close(fd)
