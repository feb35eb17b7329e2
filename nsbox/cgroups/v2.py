"""cgroup v2 driver: ``linux.resources`` -> the unified hierarchy's files.

The OCI resources are v1-shaped; the conversions are crun's (crun.1, "CGROUP
v2" conversion table) and runc's (libcontainer/cgroups/utils.go
ConvertMemorySwapToCgroupV2Value, ConvertBlkIOToIOWeightValue):

    cpu.shares   -> cpu.weight       1 + ((shares - 2) * 9999) / 262142
    quota/period -> cpu.max          "QUOTA PERIOD" ("max" for no quota)
    burst        -> cpu.max.burst
    memory.limit -> memory.max       -1 -> "max"
    memory.swap  -> memory.swap.max  swap - limit (v1's swap counts memory too)
    reservation  -> memory.low
    blkio weight -> io.bfq.weight (same scale), else io.weight 1 + (w - 10) * 9999 / 990
    throttle     -> io.max           "MAJ:MIN rbps=N wbps=N riops=N wiops=N"
    pids.limit   -> pids.max         -1 -> "max"
    hugepages    -> hugetlb.SIZE.max
    unified      -> written as given, last (config-linux.md "Unified")

Settings v2 does not have (swappiness, disableOOMKiller, kernel memory,
realtime CPU, net_cls/net_prio) are returned as :class:`Skipped` rather than
dropped.  ``devices`` is cgroups/devices.py's (an eBPF filter on v2).
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..kernel.errors import KernelError
from .common import Skipped, Target, rdma, write_value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FORBIDDEN_UNIFIED = ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.kill")


def apply(cgroup_dir: str, resources: dict[str, Any]) -> list[Skipped]:
    t = Target(cgroup_dir, 2)
    for key, fn in (("memory", memory), ("cpu", cpu), ("pids", pids), ("blockIO", block_io),
                    ("hugepageLimits", hugepages), ("rdma", rdma), ("network", network)):
        if resources.get(key):
            fn(t, resources[key])
    if resources.get("unified"):
        unified(cgroup_dir, resources["unified"])
    return t.skipped


def _max(v: int | None) -> str:
    return "max" if v is None or v < 0 else str(v)


def swap_value(swap: int | None, limit: int | None) -> int | None:
    """OCI memory.swap (memory+swap, v1 style) -> memory.swap.max; None leaves it unset."""
    if limit == -1 and not swap:
        return -1  # "memory unlimited" means swap too
    if swap is None or swap == 0 or swap == -1:
        return None if not swap else -1
    if limit is None or limit <= 0:
        raise ConfigError("linux.resources.memory.swap: cannot limit swap without a memory limit")
    if swap < limit:
        raise ConfigError("linux.resources.memory.swap: memory+swap must be at least the memory limit")
    return swap - limit


def memory(t: Target, m: dict[str, Any]) -> None:
    limit = m.get("limit")
    swap = swap_value(m.get("swap"), limit)
    if m.get("checkBeforeUpdate") and limit is not None and limit >= 0:
        cur = t.read("memory", "memory.current")
        if cur is not None and cur.isdigit() and int(cur) > limit:
            raise ConfigError(f"linux.resources.memory.limit `{limit}`: below the current usage ({cur})")
    # swap first when lowering memory.max would otherwise push pages out to it
    if swap is not None:
        t.write("memory", "memory.swap.max", _max(swap), "memory.swap")
    if limit is not None:
        t.write("memory", "memory.max", _max(limit), "memory.limit")
    if m.get("reservation") is not None:
        t.write("memory", "memory.low", _max(m["reservation"]), "memory.reservation")
    if m.get("swappiness") is not None:
        t.skip("memory.swappiness", "cgroup v2 has no per-cgroup swappiness")
    if m.get("disableOOMKiller"):
        t.skip("memory.disableOOMKiller", "cgroup v2 cannot disable the OOM killer for a cgroup")
    for key in ("kernel", "kernelTCP"):
        if m.get(key) is not None and m[key] != -1:
            t.skip(f"memory.{key}", "cgroup v2 has no separate kernel memory limit (kernel memory "
                   "counts in memory.max)")
    if m.get("useHierarchy") is False:
        t.skip("memory.useHierarchy", "cgroup v2 accounting is always hierarchical")


def shares_to_weight(shares: int) -> int:
    from ..specgen.resources import shares_to_weight as conv

    return conv(shares)


def cpu(t: Target, c: dict[str, Any]) -> None:
    if c.get("shares"):
        t.write("cpu", "cpu.weight", shares_to_weight(int(c["shares"])), "cpu.shares")
    quota, period = c.get("quota"), c.get("period")
    if quota is not None or period:
        value = _max(quota) if quota is not None else "max"
        if period:
            value += f" {period}"
        t.write("cpu", "cpu.max", value, "cpu.quota" if quota is not None else "cpu.period")
    if c.get("burst") is not None:
        t.write("cpu", "cpu.max.burst", c["burst"], "cpu.burst")
    if c.get("idle") is not None:
        t.write("cpu", "cpu.idle", c["idle"], "cpu.idle")
    for key in ("realtimeRuntime", "realtimePeriod"):
        if c.get(key):
            t.skip(f"cpu.{key}", "cgroup v2 has no realtime CPU controls")
    for key in ("cpus", "mems"):
        if c.get(key):
            try:
                t.write("cpuset", f"cpuset.{key}", c[key], f"cpu.{key}")
            except KernelError as e:
                have = t.read("cpuset", f"cpuset.{key}.effective") or "?"
                what = "CPUs" if key == "cpus" else "memory nodes"
                raise ConfigError(f"--cpuset-{key} `{c[key]}`: requested {what} are not available "
                                  f"(available: {have}): {e.strerror}") from None


def pids(t: Target, p: dict[str, Any]) -> None:
    if p.get("limit") is not None:
        t.write("pids", "pids.max", _max(p["limit"]), "pids.limit")


def io_weight(blkio: int) -> int:
    return 1 + ((blkio - 10) * 9999) // 990


def block_io(t: Target, b: dict[str, Any]) -> None:
    bfq = t.has("io", "io.bfq.weight")
    if b.get("weight"):
        if bfq:
            t.write("io", "io.bfq.weight", b["weight"], "blockIO.weight")
        else:
            t.write("io", "io.weight", f"default {io_weight(int(b['weight']))}", "blockIO.weight")
    if b.get("leafWeight"):
        t.skip("blockIO.leafWeight", "cgroup v2 has no leaf weight")
    for d in b.get("weightDevice") or ():
        if d.get("weight") is not None:
            w = d["weight"] if bfq else io_weight(int(d["weight"]))
            t.write("io", "io.bfq.weight" if bfq else "io.weight", f"{d['major']}:{d['minor']} {w}",
                    "blockIO.weightDevice")
    # io.max: one line per device with every key set for it
    per_dev: dict[tuple[int, int], list[str]] = {}
    for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                      ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
        for d in b.get(key) or ():
            per_dev.setdefault((d["major"], d["minor"]), []).append(f"{name}={d['rate'] or 'max'}")
    for (major, minor), parts in per_dev.items():
        t.write("io", "io.max", f"{major}:{minor} {' '.join(parts)}", "blockIO.throttle")


def hugepages(t: Target, limits: list[dict[str, Any]]) -> None:
    for h in limits:
        size = h["pageSize"]
        t.write("hugetlb", f"hugetlb.{size}.max", h["limit"], f"hugepageLimits.{size}")
        if t.has("hugetlb", f"hugetlb.{size}.rsvd.max"):
            t.write("hugetlb", f"hugetlb.{size}.rsvd.max", h["limit"], f"hugepageLimits.{size}")


def network(t: Target, n: dict[str, Any]) -> None:
    if n.get("classID") is not None or n.get("priorities"):
        t.skip("network", "net_cls and net_prio exist only on cgroup v1")


def unified(cgroup_dir: str, u: dict[str, str]) -> None:
    """Each key is a file of the container's cgroup; unknown keys are still written,
    a missing controller or file is an error (config-linux.md "Unified")."""
    try:
        with open(f"{cgroup_dir}/cgroup.controllers") as f:
            enabled = set(f.read().split())
    except OSError:
        enabled = set()
    for key, value in u.items():
        if "/" in key or key.startswith(".") or not key or key in FORBIDDEN_UNIFIED:
            raise ConfigError(f"linux.resources.unified `{key}`: not a settable file of the container's cgroup")
        ctrl = key.split(".")[0]
        if ctrl != "cgroup" and ctrl not in enabled:
            raise ConfigError(f"linux.resources.unified `{key}`: the `{ctrl}` controller is not available "
                              f"for `{cgroup_dir}`")
        path = f"{cgroup_dir}/{key}"
        if not os.path.exists(path):
            raise ConfigError(f"linux.resources.unified `{key}`: no such file in `{cgroup_dir}`")
        write_value(path, str(value))
