"""Apply ``linux.resources`` to a container's cgroup with the right driver.

- cgroup v2 (unified): :mod:`.v2` on the container's one directory;
- v1 / hybrid: :mod:`.v1` on each controller's hierarchy; a controller that
  lives in the cgroup2 mount of a hybrid machine (hugetlb here) is written
  there with the v2 rules.

A limit this machine cannot apply (no such controller, file or permission, or
a rootless caller without a delegated cgroup) is never dropped silently: it
is reported as one warning line, or is an error with ``--strict-limits``.
"""

from __future__ import annotations

from ..errors import NsboxError
from . import v1, v2
from .common import Skipped, cgroup_dirs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .manager import Cgroup

# OCI field -> the nsbox run flag that sets it (for messages a user recognises)
FLAGS = {
    "memory.limit": "--memory", "memory.swap": "--memory-swap", "memory.reservation": "--memory-reservation",
    "memory.swappiness": "--memory-swappiness", "memory.disableOOMKiller": "--oom-kill-disable",
    "cpu.shares": "--cpu-shares/--cpu-weight", "cpu.quota": "--cpus/--cpu-quota", "cpu.period": "--cpu-period",
    "cpu.cpus": "--cpuset-cpus", "cpu.mems": "--cpuset-mems", "pids.limit": "--pids-limit",
    "blockIO.weight": "--blkio-weight", "blockIO.weightDevice": "--blkio-weight-device",
    "blockIO.throttleReadBpsDevice": "--device-read-bps", "blockIO.throttleWriteBpsDevice": "--device-write-bps",
    "blockIO.throttleReadIOPSDevice": "--device-read-iops",
    "blockIO.throttleWriteIOPSDevice": "--device-write-iops", "blockIO.throttle": "--device-*-bps/iops",
    "unified.io.weight": "--io-weight", "unified.cpu.weight": "--cpu-weight",
}
# controllers whose OCI section v1 and v2 name differently
V2_NAME = {"blkio": "io"}
SECTION_CONTROLLERS = {"memory": ("memory",), "cpu": ("cpu", "cpuset"), "pids": ("pids",),
                       "blockIO": ("blkio",), "hugepageLimits": ("hugetlb",), "rdma": ("rdma",),
                       "network": ("net_cls", "net_prio")}


# linux.resources fields and their JSON types (config-linux.md), checked before any write so a
# malformed config.json is one error naming its JSON path, not a half-applied cgroup
_I, _S, _B = "integer", "string", "boolean"
SCALARS = {
    "memory": {"limit": _I, "reservation": _I, "swap": _I, "kernel": _I, "kernelTCP": _I, "swappiness": _I,
               "disableOOMKiller": _B, "useHierarchy": _B, "checkBeforeUpdate": _B},
    "cpu": {"shares": _I, "quota": _I, "burst": _I, "period": _I, "realtimeRuntime": _I, "realtimePeriod": _I,
            "cpus": _S, "mems": _S, "idle": _I},
    "pids": {"limit": _I},
    "blockIO": {"weight": _I, "leafWeight": _I},
    "network": {"classID": _I},
}
DEVICE_LISTS = {"weightDevice": ("major", "minor"), "throttleReadBpsDevice": ("major", "minor", "rate"),
                "throttleWriteBpsDevice": ("major", "minor", "rate"),
                "throttleReadIOPSDevice": ("major", "minor", "rate"),
                "throttleWriteIOPSDevice": ("major", "minor", "rate")}


def _is(value: object, kind: str) -> bool:
    if kind == _B:
        return isinstance(value, bool)
    if kind == _I:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def validate(resources: dict[str, Any]) -> None:
    """Raise ConfigError naming the JSON path of the first mistyped field."""
    from ..errors import ConfigError

    def bad(path: str, what: str) -> ConfigError:
        return ConfigError(f"linux.resources.{path}: must be {what}")

    for section, fields in SCALARS.items():
        sec = resources.get(section)
        if sec is None:
            continue
        if not isinstance(sec, dict):
            raise bad(section, "an object")
        for key, kind in fields.items():
            if sec.get(key) is not None and not _is(sec[key], kind):
                raise bad(f"{section}.{key}", f"a{'n' if kind == _I else ''} {kind}")
    for key, need in DEVICE_LISTS.items():
        items = (resources.get("blockIO") or {}).get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise bad(f"blockIO.{key}", "an array")
        for i, d in enumerate(items):
            if not isinstance(d, dict) or any(not _is(d.get(f), _I) for f in need):
                raise bad(f"blockIO.{key}[{i}]", f"an object with integer {', '.join(need)}")
    for i, h in enumerate(resources.get("hugepageLimits") or ()):
        if not isinstance(h, dict) or not _is(h.get("pageSize"), _S) or not _is(h.get("limit"), _I) \
                or "/" in h["pageSize"]:
            raise bad(f"hugepageLimits[{i}]", "an object with a pageSize string and an integer limit")
    u = resources.get("unified")
    if u is not None and (not isinstance(u, dict) or not all(isinstance(v, str) for v in u.values())):
        raise bad("unified", "an object of strings")


class LimitsNotApplied(NsboxError):
    """--strict-limits: a limit the user asked for cannot be applied here."""


def describe(limit: str) -> str:
    return FLAGS.get(limit) or f"linux.resources.{limit}"


def derived(resources: dict[str, Any], limit: str) -> bool:
    """True for the swap limit nsbox derives from --memory (Docker's default: as much
    swap as memory), which the user did not ask for: a host without swap
    accounting simply has no swap limit to set."""
    mem = resources.get("memory") or {}
    return limit == "memory.swap" and mem.get("limit") is not None and mem.get("swap") == 2 * mem["limit"]


def requested(resources: dict[str, Any]) -> list[str]:
    """The limits a resources object asks for, as flags (for whole-container messages)."""
    out: list[str] = []
    for section, value in resources.items():
        if not value:
            continue
        if isinstance(value, dict):
            for k in value:
                if derived(resources, f"{section}.{k}"):
                    continue
                name = describe(f"{section}.{k}")
                if name not in out:
                    out.append(name)
        elif describe(section) not in out:
            out.append(describe(section))
    return out


def warn(msg: str, out: list[str] | None) -> None:
    """Report it (nsbox.defaults.warn) and keep it for the caller's result."""
    from .. import defaults

    if out is not None:
        out.append(msg)
    defaults.warn(msg, collected=out is not None)


def report(skipped: list[Skipped], strict: bool, out: list[str] | None = None) -> None:
    """One line per reason: warn, or fail when the user asked for --strict-limits."""
    by_reason: dict[str, list[str]] = {}
    for s in skipped:
        names = by_reason.setdefault(s.reason, [])
        if describe(s.limit) not in names:
            names.append(describe(s.limit))
    for reason, names in by_reason.items():
        what = ", ".join(names)
        if strict:
            raise LimitsNotApplied(f"limits {what}: cannot be applied: {reason} (--strict-limits)")
        warn(f"{what}: not applied: {reason}", out)


def apply(cg: Cgroup, resources: dict[str, Any], *, rootless: bool = False, strict: bool = False,
          warnings: list[str] | None = None) -> list[Skipped]:
    """Write the limits; report (or refuse, ``strict``) those that cannot be applied.
    ``devices`` is not ours: cgroups/devices.py applies it."""
    resources = {k: v for k, v in resources.items() if k != "devices"}
    validate(resources)
    layout = cg.layout
    if layout.mode == "v2":
        skipped = v2.apply(cg.dir(layout.hierarchies[0]), resources)
    else:
        skipped = _apply_v1(cg, resources)
    report([s for s in skipped if not derived(resources, s.limit)], strict, warnings)
    return skipped


def _apply_v1(cg: Cgroup, resources: dict[str, Any]) -> list[Skipped]:
    layout = cg.layout
    dirs = cgroup_dirs(layout, cg.path)
    u = layout.unified()
    on_v2: dict[str, Any] = {}
    if u is not None:
        # hybrid: sections whose controllers are only in the cgroup2 mount go there
        have2 = set(u.controllers)
        for section, ctrls in SECTION_CONTROLLERS.items():
            if section in resources and not any(c in dirs for c in ctrls) \
                    and any(V2_NAME.get(c, c) in have2 for c in ctrls):
                on_v2[section] = resources[section]
        unified = resources.get("unified") or {}
        u2 = {k: v for k, v in unified.items() if k.split(".")[0] in have2}
        if u2:
            on_v2["unified"] = u2
    rest = {k: v for k, v in resources.items() if k not in on_v2}
    if "unified" in on_v2:
        rest["unified"] = {k: v for k, v in (resources.get("unified") or {}).items() if k not in on_v2["unified"]}
    skipped = v1.apply(dirs, rest)
    if on_v2 and u is not None:
        skipped += v2.apply(cg.dir(u), on_v2)
    return skipped


def unavailable(resources: dict[str, Any], reason: str, *, strict: bool,
                warnings: list[str] | None = None) -> None:
    """No cgroup at all for this container (rootless without delegation): every
    requested limit is reported in one line, or refused with --strict-limits."""
    what = ", ".join(requested(resources)) or "linux.resources"
    if strict:
        raise LimitsNotApplied(f"limits {what}: cannot be applied: {reason} (--strict-limits)")
    warn(f"{what}: not applied: {reason}", warnings)
