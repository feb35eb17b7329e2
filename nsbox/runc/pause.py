"""``nsbox-runc pause ID`` / ``resume ID``: the cgroup freezer (v1 freezer.state, v2 cgroup.freeze)."""

from __future__ import annotations

import os

from ..runtime import state as S
from .opts import one_id, parse


def main(name: str, argv: list[str]) -> int:
    from .freezer import freeze
    from .store import cgroup_path, lookup, need, store

    _v, pos = parse(name, f"{name} ID", [], argv)
    c = lookup(store(), one_id(name, pos))
    c.lock()
    try:
        if name == "pause":
            need(c, "pause", S.RUNNING, S.CREATED)
            freeze(cgroup_path(c), True, f"pause `{c.id}`")
            c.write(status=S.PAUSED)
        else:
            need(c, "resume", S.PAUSED)
            freeze(cgroup_path(c), False, f"resume `{c.id}`")
            c.write(status=S.CREATED if os.path.lexists(c.fifo) else S.RUNNING)
    finally:
        c.unlock()
    return 0
