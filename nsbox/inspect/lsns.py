"""``nsbox ns``: every namespace on the machine, one row each, as lsns(8) lists them.

The algorithm is util-linux 2.38's (sys-utils/lsns.c), so the counts agree:
- every process (not thread) in /proc, in PID order; a namespace link that
  cannot be read (EACCES: another user's process, for an unprivileged caller)
  is left out, as lsns leaves it out;
- a namespace's PID, USER and COMMAND are those of the first process found in it
  (the lowest PID), NPROCS the number of processes in it;
- rows are sorted by inode; a namespace whose first process's parent is the
  first process of an earlier row is drawn as that row's child in COMMAND.
Only namespaces some process is in are listed (lsns 2.38 does the same: one kept
alive by a bind mount alone, like ``ip netns add``'s, has no row).
"""

from __future__ import annotations

import os
import pwd

from .target import NS_TYPES, ns_inode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Proc:
    __slots__ = ("pid", "ppid", "uid", "ns", "parent", "outline")

    def __init__(self, pid: int, ppid: int, uid: int, ns: dict[str, int]) -> None:
        self.pid = pid
        self.ppid = ppid
        self.uid = uid
        self.ns = ns
        self.parent: Proc | None = None
        self.outline: Namespace | None = None  # the last row this process stands for


class Namespace:
    __slots__ = ("inode", "type", "procs", "children", "container")

    def __init__(self, inode: int, type_: str) -> None:
        self.inode = inode
        self.type = type_
        self.procs: list[Proc] = []
        self.children: list[Namespace] = []
        self.container: str | None = None

    @property
    def proc(self) -> Proc:
        return self.procs[0]

    @property
    def nprocs(self) -> int:
        return len(self.procs)


def _pids(proc: str) -> list[int]:
    return sorted(int(n) for n in os.listdir(proc) if n.isdigit())


def read_process(pid: int, types: tuple[str, ...], proc: str = "/proc") -> Proc | None:
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            data = f.read()
        uid = os.stat(f"{proc}/{pid}").st_uid  # lsns: the owner of /proc/PID
    except OSError:
        return None  # exited meanwhile
    ppid = int(data[data.rfind(b")") + 2:].split()[1])
    inodes = {}
    for t in types:
        ino = ns_inode(pid, t, proc)
        if ino is not None:
            inodes[t] = ino
    return Proc(pid, ppid, uid, inodes)


def scan(types: tuple[str, ...] = NS_TYPES, proc: str = "/proc") -> list[Namespace]:
    """Namespaces sorted by inode, each with its processes (lowest PID first)."""
    procs = [p for p in (read_process(pid, types, proc) for pid in _pids(proc)) if p is not None]
    by_pid = {p.pid: p for p in procs}
    for p in procs:
        p.parent = by_pid.get(p.ppid)
    found: dict[int, Namespace] = {}
    for p in procs:
        for t in types:
            ino = p.ns.get(t)
            if ino is None:
                continue
            ns = found.get(ino)
            if ns is None:
                ns = found[ino] = Namespace(ino, t)
            ns.procs.append(p)
    return sorted(found.values(), key=lambda n: n.inode)


def build_tree(rows: list[Namespace]) -> list[Namespace]:
    """Hang each row under the row of its first process's parent (lsns's process
    tree: the parent's most recent row, in inode order); returns the top rows."""
    for ns in rows:
        ns.children = []
        ns.proc.outline = None
    top = []
    for ns in rows:
        parent = ns.proc.parent
        if parent is not None and parent.outline is not None:
            parent.outline.children.append(ns)
        else:
            top.append(ns)
        ns.proc.outline = ns
    return top


def command(pid: int, proc: str = "/proc") -> str:
    """The command line with NULs as spaces; the kernel thread's name if empty."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            raw = f.read(8192)
    except OSError:
        raw = b""
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace").strip()
    if text:
        return text
    try:
        with open(f"{proc}/{pid}/comm", "rb") as f:
            return f.read().decode(errors="replace").strip()
    except OSError:
        return ""


def user_name(uid: int, cache: dict[int, str] = {}) -> str:  # noqa: B006 - a deliberate cache
    name = cache.get(uid)
    if name is None:
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        cache[uid] = name
    return name


def owners(store: Any, host: dict[str, int], proc: str = "/proc") -> dict[int, str]:
    """Namespace inode -> the nsbox container (name, or short id) that made it.

    A namespace is the container's when its init is in it and the host
    (PID 1) is not: shared host namespaces belong to nobody."""
    from .target import container_pid

    out: dict[int, str] = {}
    for cid in store.ids():
        if cid.startswith("."):
            continue
        try:
            st = store.lookup(cid).read()
        except Exception:  # noqa: BLE001 - a half-written or foreign entry
            continue
        pid = container_pid(st)
        if not pid:
            continue
        label = st.get("name") or cid[:12]
        for t in NS_TYPES:
            ino = ns_inode(pid, t, proc)
            if ino is not None and host.get(t) != ino:
                out.setdefault(ino, label)
    return out


def select(rows: list[Namespace], pid: int | None = None) -> list[Namespace]:
    """lsns -p: only the namespaces ``pid`` is in."""
    if pid is None:
        return rows
    return [ns for ns in rows if any(p.pid == pid for p in ns.procs)]


def as_rows(rows: list[Namespace], tree: bool = True, proc: str = "/proc") -> list[dict[str, Any]]:
    """Rows in display order with a ``prefix`` for the tree drawn in COMMAND."""
    from .table import walk_tree

    if tree:
        ordered = walk_tree(build_tree(rows), lambda n: n.children)  # type: ignore[attr-defined]
    else:
        ordered = [(ns, "") for ns in rows]
    out = []
    for ns, prefix in ordered:
        assert isinstance(ns, Namespace)
        p = ns.proc
        out.append({"ns": ns.inode, "type": ns.type, "nprocs": ns.nprocs, "pid": p.pid,
                    "user": user_name(p.uid), "command": command(p.pid, proc),
                    "container": ns.container, "prefix": prefix})
    return out


HEADERS = ("NS", "TYPE", "NPROCS", "PID", "USER", "COMMAND", "CONTAINER")


def format_table(rows: list[dict[str, Any]], noheadings: bool = False) -> str:
    """lsns's columns, then CONTAINER (last, so lsns's column positions hold)."""
    from .table import render

    cells = [[str(r["ns"]), r["type"], str(r["nprocs"]), str(r["pid"]), r["user"],
              r["prefix"] + r["command"], r["container"] or ""] for r in rows]
    return render(HEADERS, cells, right=(0, 2, 3), noheadings=noheadings, min_widths=(10, 5, 5, 5))
