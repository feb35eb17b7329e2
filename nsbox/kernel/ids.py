"""User and group ids: /proc/PID/{uid_map,gid_map,setgroups}, set*id(2).

The rules these files enforce are in user_namespaces(7); the runtime checks
them first (nsbox.runtime.userns) so the user reads which rule was broken.
"""

from __future__ import annotations

import errno
import os

from .errors import KernelError


def _write_proc(path: str, data: str, what: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(e.errno or 0, f"open `{path}`", path) from None
    try:
        os.write(fd, data.encode())
    except OSError as e:
        raise KernelError(e.errno or 0, f"write {what} to `{path}`", path) from None
    finally:
        os.close(fd)


def format_map(entries: list[tuple[int, int, int]] | tuple[tuple[int, int, int], ...]) -> str:
    return "".join(f"{inside} {outside} {count}\n" for inside, outside, count in entries)


def write_uid_map(pid: int | str, entries) -> None:
    _write_proc(f"/proc/{pid}/uid_map", format_map(entries), f"uid map {format_map(entries).strip()!r}")


def write_gid_map(pid: int | str, entries) -> None:
    _write_proc(f"/proc/{pid}/gid_map", format_map(entries), f"gid map {format_map(entries).strip()!r}")


def write_setgroups(pid: int | str, allow: bool) -> None:
    _write_proc(f"/proc/{pid}/setgroups", "allow" if allow else "deny", "setgroups")


def read_map(path: str) -> list[tuple[int, int, int]]:
    with open(path) as f:
        return [tuple(int(x) for x in line.split()) for line in f if line.strip()]  # type: ignore[misc]


def _real_id(what: str, n: int) -> None:
    """(uid_t)-1 is "leave unchanged" to the set*id calls: asked for it (or for a
    negative id), a process must fail, not stay root."""
    if not 0 <= n < 0xFFFFFFFF:
        raise KernelError(errno.EINVAL, f"{what} {n}: not a valid id (0 to 4294967294)")


def setresuid(uid: int) -> None:
    _real_id("setresuid", uid)
    try:
        os.setresuid(uid, uid, uid)
    except OSError as e:
        raise KernelError(e.errno or 0, f"setresuid {uid}") from None


def setresgid(gid: int) -> None:
    _real_id("setresgid", gid)
    try:
        os.setresgid(gid, gid, gid)
    except OSError as e:
        raise KernelError(e.errno or 0, f"setresgid {gid}") from None


def setgroups(groups: list[int]) -> None:
    try:
        os.setgroups(groups)
    except OSError as e:
        raise KernelError(e.errno or 0, f"setgroups {groups}") from None
