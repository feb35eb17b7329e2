"""cgroup v1 driver: ``linux.resources`` -> the v1 controller files.

Only writes files (and reads the few it must to order writes).  File names and
write orders are the kernel's (Documentation/admin-guide/cgroup-v1/*.rst) and
runc's libcontainer/cgroups/fs (memory.go setMemoryAndSwap, cpu.go SetRtSched
and the period/quota retry).  ``apply(cgroup_dir, resources)`` takes one
directory holding every file (tests) or a mapping controller -> directory.
"""

from __future__ import annotations

import errno

from ..errors import ConfigError
from ..kernel.errors import KernelError
from .common import Skipped, Target, rdma

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

UNLIMITED = -1


def apply(cgroup_dir: str | Mapping[str, str], resources: dict[str, Any]) -> list[Skipped]:
    t = Target(cgroup_dir, 1)
    # linux.resources.devices is cgroups/devices.py's (v1 files or a v2 eBPF filter)
    for key, fn in (("memory", memory), ("cpu", cpu), ("pids", pids), ("blockIO", block_io),
                    ("hugepageLimits", hugepages), ("network", network), ("rdma", rdma)):
        if resources.get(key):
            fn(t, resources[key])
    if resources.get("unified"):
        unified(t, resources["unified"])
    return t.skipped


def _num(v: int) -> str:
    return "-1" if v is None or v < 0 else str(v)


def memory(t: Target, m: dict[str, Any]) -> None:
    limit, swap = m.get("limit"), m.get("swap")
    if limit == UNLIMITED and swap is None:
        swap = UNLIMITED  # "memory unlimited" means memory+swap too (runc)
    if limit is not None and swap is not None:
        cur = t.read("memory", "memory.limit_in_bytes")
        # memsw must stay >= memory at every step: raise memsw first when growing
        if swap == UNLIMITED or (cur is not None and cur.isdigit() and int(cur) < swap):
            order = (("memory.memsw.limit_in_bytes", swap, "memory.swap"),
                     ("memory.limit_in_bytes", limit, "memory.limit"))
        else:
            order = (("memory.limit_in_bytes", limit, "memory.limit"),
                     ("memory.memsw.limit_in_bytes", swap, "memory.swap"))
    else:
        order = tuple(x for x in (("memory.limit_in_bytes", limit, "memory.limit"),
                                  ("memory.memsw.limit_in_bytes", swap, "memory.swap")) if x[1] is not None)
    for file, value, limit_name in order:
        t.write("memory", file, _num(value), limit_name)
    for key, file in (("reservation", "memory.soft_limit_in_bytes"), ("kernel", "memory.kmem.limit_in_bytes"),
                      ("kernelTCP", "memory.kmem.tcp.limit_in_bytes")):
        if m.get(key) is not None:
            t.write("memory", file, _num(m[key]), f"memory.{key}")
    if m.get("swappiness") is not None:
        t.write("memory", "memory.swappiness", m["swappiness"], "memory.swappiness")
    if m.get("disableOOMKiller"):
        t.write("memory", "memory.oom_control", "1", "memory.disableOOMKiller")
    if m.get("useHierarchy") is not None:
        t.write("memory", "memory.use_hierarchy", "1" if m["useHierarchy"] else "0", "memory.useHierarchy")


def cpu(t: Target, c: dict[str, Any]) -> None:
    if c.get("shares"):
        t.write("cpu", "cpu.shares", c["shares"], "cpu.shares")
    period, quota = c.get("period"), c.get("quota")
    if period:
        try:
            t.write("cpu", "cpu.cfs_period_us", period, "cpu.period")
        except KernelError as e:
            # a period the current quota does not fit: set the quota first (runc cpu.go)
            if e.errno != errno.EINVAL or quota is None:
                raise
            t.write("cpu", "cpu.cfs_quota_us", _num(quota), "cpu.quota")
            t.write("cpu", "cpu.cfs_period_us", period, "cpu.period")
    if quota is not None:
        t.write("cpu", "cpu.cfs_quota_us", _num(quota), "cpu.quota")
    if c.get("burst") is not None:
        t.write("cpu", "cpu.cfs_burst_us", c["burst"], "cpu.burst")
    # rt: period before runtime, as the kernel checks runtime against the period
    for key, file in (("realtimePeriod", "cpu.rt_period_us"), ("realtimeRuntime", "cpu.rt_runtime_us")):
        if c.get(key) is not None:
            t.write("cpu", file, c[key], f"cpu.{key}")
    if c.get("idle") is not None:
        t.write("cpu", "cpu.idle", c["idle"], "cpu.idle")
    cpuset(t, c)


def cpuset(t: Target, c: dict[str, Any]) -> None:
    for key, file in (("cpus", "cpuset.cpus"), ("mems", "cpuset.mems")):
        if not c.get(key):
            continue
        try:
            t.write("cpuset", file, c[key], f"cpu.{key}")
        except KernelError as e:
            if e.errno not in (errno.EINVAL, errno.ERANGE):
                raise
            have = t.read("cpuset", f"cpuset.effective_{key}") or "?"
            what = "CPUs" if key == "cpus" else "memory nodes"
            raise ConfigError(f"--cpuset-{key} `{c[key]}`: requested {what} are not available "
                              f"(available: {have})") from None


def pids(t: Target, p: dict[str, Any]) -> None:
    limit = p.get("limit")
    if limit is not None:
        t.write("pids", "pids.max", "max" if limit < 0 else limit, "pids.limit")


def _weight_prefix(t: Target) -> str:
    # blkio.weight exists with CFQ; BFQ (the scheduler left since 5.0) names it blkio.bfq.weight
    bfq = not t.has("blkio", "blkio.weight") and t.has("blkio", "blkio.bfq.weight")
    return "blkio.bfq." if bfq else "blkio."


def block_io(t: Target, b: dict[str, Any]) -> None:
    prefix = _weight_prefix(t)
    if b.get("weight"):
        t.write("blkio", prefix + "weight", b["weight"], "blockIO.weight")
    if b.get("leafWeight"):
        t.write("blkio", "blkio.leaf_weight", b["leafWeight"], "blockIO.leafWeight")
    for d in b.get("weightDevice") or ():
        if d.get("weight") is not None:
            t.write("blkio", prefix + "weight_device", f"{d['major']}:{d['minor']} {d['weight']}",
                    "blockIO.weightDevice")
        if d.get("leafWeight") is not None:
            t.write("blkio", "blkio.leaf_weight_device", f"{d['major']}:{d['minor']} {d['leafWeight']}",
                    "blockIO.weightDevice")
    for key, file in (("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
                      ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
                      ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
                      ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device")):
        for d in b.get(key) or ():
            t.write("blkio", file, f"{d['major']}:{d['minor']} {d['rate']}", f"blockIO.{key}")


def hugepages(t: Target, limits: list[dict[str, Any]]) -> None:
    for h in limits:
        size = h["pageSize"]
        t.write("hugetlb", f"hugetlb.{size}.limit_in_bytes", h["limit"], f"hugepageLimits.{size}")
        if t.has("hugetlb", f"hugetlb.{size}.rsvd.limit_in_bytes"):
            t.write("hugetlb", f"hugetlb.{size}.rsvd.limit_in_bytes", h["limit"], f"hugepageLimits.{size}")


def network(t: Target, n: dict[str, Any]) -> None:
    if n.get("classID") is not None:
        t.write("net_cls", "net_cls.classid", n["classID"], "network.classID")
    for p in n.get("priorities") or ():
        t.write("net_prio", "net_prio.ifpriomap", f"{p['name']} {p['priority']}", "network.priorities")


def unified(t: Target, u: dict[str, str]) -> None:
    """cgroup v2 files on a v1 controller: only the two weights nsbox's own flags
    produce are translated; anything else is an error, as the spec requires."""
    from ..specgen.resources import io_to_blkio_weight, weight_to_shares

    for key, value in u.items():
        text = str(value).strip()
        num = text.split()[-1] if text else ""
        if key == "io.weight" and num.isdigit() and (text.startswith("default") or text.isdigit()):
            t.write("blkio", _weight_prefix(t) + "weight", io_to_blkio_weight(int(num)), "unified.io.weight")
        elif key == "cpu.weight" and num.isdigit():
            t.write("cpu", "cpu.shares", weight_to_shares(int(num)), "unified.cpu.weight")
        else:
            raise ConfigError(f"linux.resources.unified `{key}`: a cgroup v2 setting, but the "
                              f"`{key.split('.')[0]}` controller is on cgroup v1 here")
