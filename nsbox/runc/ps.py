"""``nsbox-runc ps [--format table|json] ID [ps OPTIONS]``: the container's processes.

JSON is the list of their host pids (what containerd's shim reads); the table
is ``ps``'s output (``-ef`` unless options are given) kept to those pids."""

from __future__ import annotations

import os
import sys

from ..runtime import state as S
from .opts import Opt, parse

OPTIONS = [Opt("-f --format", "format", default="table", help="table or json")]


def main(name: str, argv: list[str]) -> int:
    from .. import jsonio
    from .opts import UsageError
    from .store import lookup, need, store

    v, pos = parse(name, "ps [--format table|json] ID [ps OPTIONS]", OPTIONS, argv, positionals=1)
    if not pos:
        raise UsageError(f"{name}: a container id is required")
    if v["format"] not in ("table", "json"):
        raise UsageError(f"{name}: --format `{v['format']}`: must be table or json")
    c = lookup(store(), pos[0])
    need(c, "ps", S.CREATED, S.RUNNING, S.PAUSED)
    pids = pids_of(c)
    if v["format"] == "json":
        sys.stdout.write(jsonio.dumps(pids) + "\n")
        return 0
    import subprocess

    try:
        out = subprocess.run(["ps"] + (pos[1:] or ["-ef"]), capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise UsageError(f"{name}: ps: {getattr(e, 'stderr', '') or e}".strip()) from None
    lines = out.splitlines()
    if not lines:
        return 0
    head = lines[0].split()
    if "PID" not in head:
        raise UsageError(f"{name}: the ps options give no PID column")
    col = head.index("PID")
    keep = set(pids)
    sys.stdout.write(lines[0] + "\n")
    for line in lines[1:]:
        f = line.split()
        if len(f) > col and f[col].isdigit() and int(f[col]) in keep:
            sys.stdout.write(line + "\n")
    return 0


def pids_of(c: S.Container) -> list[int]:
    """Every process in the container's cgroup; without one, init and its descendants."""
    from .store import cgroup_path

    path = cgroup_path(c)
    if path is not None:
        from ..cgroups.manager import Cgroup

        return Cgroup(path).procs()
    root = c.state.get("pid", 0)
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            ppid = int(data[data.rfind(b")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root] if root else []
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return sorted(out)
