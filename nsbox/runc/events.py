"""``nsbox-runc events [--stats] [--interval 5s] ID``: resource statistics as JSON.

``--stats`` prints one ``{"type": "stats", "id": ..., "data": {...}}`` and
exits; otherwise a stats event every interval, an ``oom`` event when the
container's OOM-kill counter grows, until the container stops.  ``data``
follows runc's layout (cpu.usage, memory.usage, pids, blkio) where this
machine's cgroups give the numbers."""

from __future__ import annotations

import sys
import time

from ..errors import ConfigError
from ..runtime import state as S
from .opts import Opt, one_id, parse

OPTIONS = [Opt("--stats", "stats", "bool", help="print the statistics once"),
           Opt("--interval", "interval", default="5s", help="time between stats events (5s, 500ms)")]


def interval(text: str) -> float:
    t = text.strip()
    for suffix, mult in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if t.endswith(suffix) and t[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(t[: -len(suffix)]) * mult
    if t.replace(".", "", 1).isdigit():
        return float(t)
    raise ConfigError(f"--interval `{text}`: a duration such as 5s or 500ms")


def stats(c: S.Container) -> dict:
    from ..cgroups.detect import detect
    from ..cgroups.stats import Sample, read_cgroup
    from .store import cgroup_path

    s = Sample()
    path = cgroup_path(c)
    if path is not None:
        read_cgroup(s, detect(), path)
    data: dict = {"cpu": {"usage": {"total": s.cpu_ns or 0}, "throttling": {}},
                  "memory": {"usage": {"usage": s.mem_usage or 0, "limit": s.mem_limit or 0}},
                  "pids": {"current": s.pids or 0},
                  "blkio": {"ioServiceBytesRecursive": [
                      {"op": "Read", "value": s.blk_read or 0}, {"op": "Write", "value": s.blk_write or 0}]}}
    return {"type": "stats", "id": c.id, "data": data}


def main(name: str, argv: list[str]) -> int:
    from .. import jsonio
    from ..cgroups.manager import Cgroup
    from .store import cgroup_path, lookup, need, status, store

    v, pos = parse(name, "events [--stats] [--interval 5s] ID", OPTIONS, argv)
    every = interval(v["interval"])
    c = lookup(store(), one_id(name, pos))
    need(c, "events", S.CREATED, S.RUNNING, S.PAUSED)
    if v["stats"]:
        sys.stdout.write(jsonio.dumps(stats(c)) + "\n")
        return 0
    path = cgroup_path(c)
    ooms = Cgroup(path).oom_kills() if path else 0
    while status(c) != S.STOPPED:
        sys.stdout.write(jsonio.dumps(stats(c)) + "\n")
        if path:
            now = Cgroup(path).oom_kills()
            if now > ooms:
                sys.stdout.write(jsonio.dumps({"type": "oom", "id": c.id}) + "\n")
            ooms = now
        sys.stdout.flush()
        time.sleep(every)
    return 0
