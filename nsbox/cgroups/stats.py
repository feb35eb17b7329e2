"""Resource usage of one container's cgroup, read the way ``docker stats`` reads it.

- CPU: cumulative CPU time (v1 cpuacct.usage in ns; v2 cpu.stat usage_usec);
  the percentage is the time used between two samples over the wall time
  between them (100% = one CPU busy), Docker's cpuDelta / systemDelta * CPUs.
- memory: usage minus inactive file cache (the docker CLI's
  calculateMemUsageUnixNoCache: total_inactive_file on v1, inactive_file on v2);
  the limit is the cgroup's, or the host's memory when it has none.
- PIDs: pids.current; block I/O: blkio.throttle.io_service_bytes(_recursive) or
  io.stat; network: /proc/PID/net/dev of the container's init, loopback excluded.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .detect import Hierarchy, Layout


class Sample:
    """One reading; a None field is unknown (no such controller, or no cgroup)."""

    __slots__ = ("time", "cpu_ns", "mem_usage", "mem_limit", "pids", "blk_read", "blk_write",
                 "net_rx", "net_tx")

    def __init__(self) -> None:
        self.time = time.monotonic()
        self.cpu_ns: int | None = None
        self.mem_usage: int | None = None
        self.mem_limit: int | None = None
        self.pids: int | None = None
        self.blk_read: int | None = None
        self.blk_write: int | None = None
        self.net_rx: int | None = None
        self.net_tx: int | None = None


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() else None


def _keyed(text: str | None) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat) -> dict."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        k, _, v = line.partition(" ")
        v = v.strip()
        if v.isdigit():
            out[k] = int(v)
    return out


def host_memory(proc: str = "/proc") -> int | None:
    for line in (_read(f"{proc}/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def _dir(layout: Layout, path: str, controller: str) -> tuple[Hierarchy | None, str | None]:
    h = layout.controller(controller)
    if h is None:
        return None, None
    d = h.mountpoint + path
    return h, (d if os.path.isdir(d) else None)


def read_cgroup(s: Sample, layout: Layout, path: str, proc: str = "/proc") -> None:
    """Fill ``s`` from the container's cgroup ``path`` (e.g. /nsbox/<id>)."""
    h, d = _dir(layout, path, "cpuacct") if layout.controller("cpuacct") else _dir(layout, path, "cpu")
    if d is not None:
        if h is not None and h.version == 1:
            s.cpu_ns = _int(_read(f"{d}/cpuacct.usage"))
        else:
            usec = _keyed(_read(f"{d}/cpu.stat")).get("usage_usec")
            s.cpu_ns = usec * 1000 if usec is not None else None
    h, d = _dir(layout, path, "memory")
    if d is not None and h is not None:
        stat = _keyed(_read(f"{d}/memory.stat"))
        if h.version == 1:
            usage = _int(_read(f"{d}/memory.usage_in_bytes"))
            inactive = stat.get("total_inactive_file", 0)
            limit_text = _read(f"{d}/memory.limit_in_bytes")
        else:
            usage = _int(_read(f"{d}/memory.current"))
            inactive = stat.get("inactive_file", 0)
            limit_text = _read(f"{d}/memory.max")
        if usage is not None:
            s.mem_usage = usage - inactive if inactive < usage else usage
        limit = _int(limit_text)
        host = host_memory(proc)
        s.mem_limit = host if limit is None or (host is not None and limit >= host) else limit
    h, d = _dir(layout, path, "pids")
    if d is not None:
        s.pids = _int(_read(f"{d}/pids.current"))
    h, d = _dir(layout, path, "blkio") if layout.controller("blkio") else _dir(layout, path, "io")
    if d is not None and h is not None:
        s.blk_read, s.blk_write = (_blkio_v1(d) if h.version == 1 else _io_v2(d))


def _blkio_v1(d: str) -> tuple[int, int]:
    text = _read(f"{d}/blkio.throttle.io_service_bytes_recursive")
    if not text:
        text = _read(f"{d}/blkio.throttle.io_service_bytes") or ""
    r = w = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            if parts[1] == "Read":
                r += int(parts[2])
            elif parts[1] == "Write":
                w += int(parts[2])
    return r, w


def _io_v2(d: str) -> tuple[int, int]:
    r = w = 0
    for line in (_read(f"{d}/io.stat") or "").splitlines():
        for field in line.split()[1:]:
            k, _, v = field.partition("=")
            if k == "rbytes" and v.isdigit():
                r += int(v)
            elif k == "wbytes" and v.isdigit():
                w += int(v)
    return r, w


def read_net(s: Sample, pid: int, proc: str = "/proc") -> None:
    """Bytes received and sent on the container's interfaces (its init's view of net/dev)."""
    text = _read(f"{proc}/{pid}/net/dev")
    if text is None:
        return
    rx = tx = 0
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    s.net_rx, s.net_tx = rx, tx


def read_pidns(s: Sample, pid: int, proc: str = "/proc") -> None:
    """No cgroup of its own (rootless on cgroup v1): count the processes of the
    container's PID namespace and add up their CPU time (proc(5) stat fields
    utime and stime).  Not done when the container shares our PID namespace."""
    try:
        ns = os.readlink(f"{proc}/{pid}/ns/pid")
        if ns == os.readlink(f"{proc}/self/ns/pid"):
            return
        entries = os.listdir(proc)
    except OSError:
        return
    n = ticks = 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"{proc}/{entry}/ns/pid") != ns:
                continue
            with open(f"{proc}/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(b")") + 2:].split()
        ticks += int(rest[11]) + int(rest[12])
        n += 1
    s.pids = n
    s.cpu_ns = ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def sample(layout: Layout, path: str | None, pid: int, proc: str = "/proc") -> Sample:
    s = Sample()
    if path:
        read_cgroup(s, layout, path, proc)
    elif pid > 0:
        read_pidns(s, pid, proc)
    if pid > 0:
        read_net(s, pid, proc)
    return s


def cpu_percent(prev: Sample | None, cur: Sample) -> float | None:
    if prev is None or prev.cpu_ns is None or cur.cpu_ns is None:
        return None
    wall = cur.time - prev.time
    if wall <= 0:
        return 0.0
    return max(0.0, (cur.cpu_ns - prev.cpu_ns) / (wall * 1e9) * 100.0)


def usage(layout: Layout, path: str) -> tuple[float | None, int | None]:
    """(CPU seconds, peak memory bytes) a container's cgroup used in all: what a
    finished run reports (Result.cpu_time, Result.peak_memory); None where this
    machine keeps no such counter (v2 memory.peak needs Linux 5.19)."""
    s = Sample()
    read_cgroup(s, layout, path)
    cpu = s.cpu_ns / 1e9 if s.cpu_ns is not None else None
    h, d = _dir(layout, path, "memory")
    peak = None
    if d is not None and h is not None:
        peak = _int(_read(f"{d}/memory.max_usage_in_bytes" if h.version == 1 else f"{d}/memory.peak"))
    return cpu, peak
