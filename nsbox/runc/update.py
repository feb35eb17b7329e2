"""``nsbox-runc update [--resources FILE|-] [FLAGS] ID``: change a container's limits.

``--resources`` is an OCI ``linux.resources`` object (config-linux.md), ``-``
reads it from stdin; the flags (runc's) override its fields.  The limits are
written through the engine's cgroup drivers (v1, v2, hybrid) and kept in the
container's config.json, so ``exec`` and later updates see them."""

from __future__ import annotations

import sys

from ..errors import ConfigError
from ..runtime import state as S
from .opts import Opt, one_id, parse

# flag -> (section, key, kind)
FLAGS = {
    "blkio_weight": ("blockIO", "weight", "int"), "cpu_period": ("cpu", "period", "int"),
    "cpu_quota": ("cpu", "quota", "int"), "cpu_share": ("cpu", "shares", "int"),
    "cpu_rt_period": ("cpu", "realtimePeriod", "int"), "cpu_rt_runtime": ("cpu", "realtimeRuntime", "int"),
    "cpuset_cpus": ("cpu", "cpus", "str"), "cpuset_mems": ("cpu", "mems", "str"),
    "memory": ("memory", "limit", "bytes"), "memory_reservation": ("memory", "reservation", "bytes"),
    "memory_swap": ("memory", "swap", "bytes"), "pids_limit": ("pids", "limit", "int"),
}
OPTIONS = [Opt("-r --resources", "resources", help="a linux.resources JSON file, - for stdin")] + [
    Opt("--" + k.replace("_", "-"), k, help=f"{s}.{f}") for k, (s, f, _t) in FLAGS.items()] + [
    Opt("--l3-cache-schema", "l3", help="refused: no Intel RDT here"),
    Opt("--mem-bw-schema", "mbw", help="refused: no Intel RDT here")]
UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def number(flag: str, text: str, kind: str) -> int | str:
    if kind == "str":
        return text
    t = text.strip().lower()
    if t == "-1":
        return -1
    mult = 1
    if kind == "bytes":
        t = t.removesuffix("b").removesuffix("i")
        if t[-1:] in UNITS:
            mult, t = UNITS[t[-1]], t[:-1]
    if not t.isdigit():
        raise ConfigError(f"--{flag.replace('_', '-')} `{text}`: must be a number")
    return int(t) * mult


def resources_from(v: dict) -> dict:
    from .. import jsonio

    res: dict = {}
    if v["resources"]:
        try:
            text = sys.stdin.read() if v["resources"] == "-" else open(v["resources"]).read()
            res = jsonio.loads(text)
        except (OSError, ValueError) as e:
            raise ConfigError(f"--resources `{v['resources']}`: {getattr(e, 'strerror', None) or e}") from None
        if not isinstance(res, dict):
            raise ConfigError(f"--resources `{v['resources']}`: not a JSON object")
    for flag, (section, key, kind) in FLAGS.items():
        if v[flag] is not None:
            res.setdefault(section, {})[key] = number(flag, v[flag], kind)
    if v["l3"] or v["mbw"]:
        raise ConfigError("--l3-cache-schema/--mem-bw-schema: refused: this machine has no Intel RDT (resctrl)")
    return res


def main(name: str, argv: list[str]) -> int:
    from ..cgroups import apply as cgapply
    from ..cgroups.manager import Cgroup
    from .store import cgroup_path, lookup, need, store

    v, pos = parse(name, "update [--resources FILE|-] [FLAGS] ID", OPTIONS, argv)
    c = lookup(store(), one_id(name, pos))
    res = resources_from(v)
    c.lock()
    try:
        need(c, "update", S.CREATED, S.RUNNING, S.PAUSED)
        path = cgroup_path(c)
        if path is None:
            raise ConfigError(f"update `{c.id}`: the container has no cgroup (rootless without delegation)")
        limits = {k: val for k, val in res.items() if k != "devices"}
        if limits:
            cgapply.apply(Cgroup(path), limits, strict=False)
        if res.get("devices"):
            from ..cgroups.devices import apply as apply_devices

            apply_devices(Cgroup(path), res["devices"])
        _remember(c, res)
    finally:
        c.unlock()
    return 0


def _remember(c: S.Container, res: dict) -> None:
    from .. import jsonio

    cfg = jsonio.load_file(f"{c.path}/config.json")
    linux = cfg.setdefault("linux", {})
    cur = linux.setdefault("resources", {})
    for section, value in res.items():
        if isinstance(value, dict) and isinstance(cur.get(section), dict):
            cur[section].update(value)
        else:
            cur[section] = value
    jsonio.write_atomic(f"{c.path}/config.json", cfg)
