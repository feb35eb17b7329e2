"""Readers for /proc: mountinfo, status, stat, namespace links.

Every function takes the procfs root as a parameter so tests can point it at a
fixture tree (psutil's PROCFS_PATH idea).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _unescape(s: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo (proc(5))
    if "\\" not in s:
        return s
    out = []
    i = 0
    while i < len(s):
        if s[i] == "\\" and i + 3 < len(s) + 0 and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


class MountInfo:
    """One line of /proc/PID/mountinfo (proc(5))."""

    __slots__ = ("id", "parent", "major", "minor", "root", "mountpoint", "options", "optional",
                 "fstype", "source", "super_options")

    def __init__(self, line: str) -> None:
        left, _, right = line.rstrip("\n").partition(" - ")
        f = left.split(" ")
        self.id = int(f[0])
        self.parent = int(f[1])
        major, _, minor = f[2].partition(":")
        self.major, self.minor = int(major), int(minor)
        self.root = _unescape(f[3])
        self.mountpoint = _unescape(f[4])
        self.options = f[5]
        self.optional = tuple(f[6:])
        r = right.split(" ")
        self.fstype = r[0]
        self.source = _unescape(r[1]) if len(r) > 1 else ""
        self.super_options = r[2] if len(r) > 2 else ""

    @property
    def propagation(self) -> str:
        """``shared:N master:M`` style tags, or ``private``."""
        tags = [t for t in self.optional if t]
        return " ".join(tags) if tags else "private"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "parent": self.parent, "major": self.major, "minor": self.minor,
                "root": self.root, "target": self.mountpoint, "options": self.options,
                "propagation": self.propagation, "fstype": self.fstype, "source": self.source,
                "superOptions": self.super_options}


def mountinfo(pid: int | str = "self", proc: str = "/proc") -> list[MountInfo]:
    with open(f"{proc}/{pid}/mountinfo") as f:
        return [MountInfo(line) for line in f if line.strip()]


def status(pid: int | str = "self", proc: str = "/proc") -> dict[str, str]:
    out: dict[str, str] = {}
    with open(f"{proc}/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def start_time(pid: int | str, proc: str = "/proc") -> int | None:
    """Field 22 of /proc/PID/stat: tells a process from a later one with the same PID."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2:].split()
    return int(rest[19])


def process_state(pid: int | str, proc: str = "/proc") -> str | None:
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2:].split()[0].decode()


def alive(pid: int, start: int | None = None, proc: str = "/proc") -> bool:
    """True if ``pid`` exists, is not a zombie, and (if given) started at ``start``."""
    if pid <= 0:
        return False
    st = process_state(pid, proc)
    if st is None or st in ("Z", "X"):
        return False
    return start is None or start_time(pid, proc) == start


def cgroups(pid: int | str = "self", proc: str = "/proc") -> list[tuple[str, str, str]]:
    """(hierarchy id, controllers, path) per line of /proc/PID/cgroup."""
    out = []
    with open(f"{proc}/{pid}/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            out.append((hid, ctrls, path))
    return out


def ns_links(pid: int | str = "self", proc: str = "/proc") -> dict[str, str]:
    """{link name: 'net:[4026531840]'} for every namespace link of a process."""
    out = {}
    base = f"{proc}/{pid}/ns"
    for name in os.listdir(base):
        try:
            out[name] = os.readlink(f"{base}/{name}")
        except OSError:
            pass
    return out


def read_id_map(pid: int | str, which: str = "uid", proc: str = "/proc") -> list[tuple[int, int, int]]:
    with open(f"{proc}/{pid}/{which}_map") as f:
        return [(int(a), int(b), int(c)) for a, b, c in (line.split() for line in f if line.strip())]
