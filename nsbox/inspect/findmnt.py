"""``nsbox mounts``: a process's mount tree, as ``findmnt -N PID`` draws it.

Built from /proc/PID/mountinfo (proc(5)) the way libmount builds it: the root is
the mount at "/" whose parent is not in the table, children are ordered by mount
id (libmount mnt_table_next_child_fs), SOURCE is ``source[fsroot]`` when only a
part of the file system is mounted (a bind mount), OPTIONS are the per-mount
options followed by the file system's (minus its rw/ro).  PROPAGATION keeps the
kernel's tags (``shared:N``, ``master:N``, ``propagate_from:N``, ``unbindable``)
so peer groups can be matched across mount namespaces; ``private`` when none.
"""

from __future__ import annotations

from ..procfs import MountInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

COLUMNS = ("TARGET", "SOURCE", "FSTYPE", "OPTIONS", "PROPAGATION")


def source(m: MountInfo) -> str:
    return m.source if m.root in ("/", "") else f"{m.source}[{m.root}]"


def options(m: MountInfo) -> str:
    fs = [o for o in m.super_options.split(",") if o and o not in ("rw", "ro")]
    return ",".join([m.options] + fs) if fs else m.options


def row(m: MountInfo) -> dict[str, Any]:
    return {"target": m.mountpoint, "source": source(m), "fstype": m.fstype, "options": options(m),
            "propagation": m.propagation, "id": m.id, "parent": m.parent}


class Tree:
    """Mounts by id, with children lists sorted by id."""

    def __init__(self, mounts: list[MountInfo]) -> None:
        self.by_id = {m.id: m for m in mounts}
        self.children: dict[int, list[MountInfo]] = {}
        for m in mounts:
            if m.parent != m.id and m.parent in self.by_id:
                self.children.setdefault(m.parent, []).append(m)
        for kids in self.children.values():
            kids.sort(key=lambda m: m.id)
        self.roots = self._roots(mounts)

    def _roots(self, mounts: list[MountInfo]) -> list[MountInfo]:
        """The mount at "/" whose parent is outside the table, then any other
        orphans (mounts whose parent was detached) so nothing read is hidden."""
        orphans = sorted((m for m in mounts if m.parent == m.id or m.parent not in self.by_id),
                         key=lambda m: (m.mountpoint != "/", m.id))
        return orphans

    def kids(self, m: MountInfo) -> list[MountInfo]:
        return self.children.get(m.id, [])


def to_json(tree: Tree) -> list[dict[str, Any]]:
    """findmnt -J's shape: nested ``children``."""
    def node(m: MountInfo) -> dict[str, Any]:
        d = row(m)
        kids = tree.kids(m)
        if kids:
            d["children"] = [node(k) for k in kids]
        return d

    return [node(r) for r in tree.roots]


def to_table(tree: Tree, as_list: bool = False, noheadings: bool = False) -> str:
    from .table import render, walk_tree

    if as_list:
        ordered = [(m, "") for m in sorted(tree.by_id.values(), key=lambda m: m.id)]
    else:
        ordered = walk_tree(tree.roots, tree.kids)  # type: ignore[arg-type]
    rows = []
    for m, prefix in ordered:
        assert isinstance(m, MountInfo)
        r = row(m)
        rows.append([prefix + r["target"], r["source"], r["fstype"], r["options"], r["propagation"]])
    return render(COLUMNS, rows, noheadings=noheadings)
