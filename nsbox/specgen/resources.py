"""Docker's resource flags -> ``linux.resources`` (OCI config-linux.md) and the cgroup path.

Imported by the builder only when a limit was asked for: a container without
limits never loads this module.  Names, units and checks follow ``docker run``
(moby daemon/daemon_unix.go verifyPlatformContainerResources, docker/go-units
RAMInBytes), so the same command line means the same container.  Everything
here is host-independent except the block devices named by the I/O flags
(their major:minor) and the number of CPUs (``--cpus`` is bounded by it).
"""

from __future__ import annotations

import os

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .builder import Host
    from .options import RunOptions

UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
MIN_MEMORY = 6 * 1024 * 1024          # moby: "Minimum memory limit allowed is 6MB"
CFS_PERIOD = 100_000                  # µs; the kernel's default and Docker's for --cpus
MAX_SHARES = 262_144                  # kernel/sched: MAX_SHARES (cpu.shares is clamped to 2..2^18)
MIN_SHARES = 2


def parse_bytes(value: object, flag: str) -> int:
    """Docker's RAMInBytes: ``256m``, ``1.5g``, ``512KiB``, ``100`` (bytes); binary units."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    low = text.lower()
    if low.endswith("ib"):
        low = low[:-2]
    elif low.endswith("b"):
        low = low[:-1]
    unit = low[-1:] if low[-1:].isalpha() else ""
    number = low[: len(low) - len(unit)].strip()
    try:
        if unit not in UNITS or not number or not number.replace(".", "", 1).isdigit():
            raise ValueError
        size = float(number)
    except ValueError:
        raise ConfigError(f"{flag} `{text}`: expected a size like 512m, 1.5g or 1048576 "
                          "(units b, k, m, g, t; binary)") from None
    return int(size * UNITS[unit])


def parse_int(value: object, flag: str, lo: int | None = None, hi: int | None = None) -> int:
    try:
        n = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{flag} `{value}`: expected an integer") from None
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        rng = f"{lo} to {hi}" if hi is not None else f"at least {lo}"
        raise ConfigError(f"{flag} `{value}`: out of range ({rng})")
    return n


def parse_cpu_list(value: str, flag: str) -> str:
    """``0-3,7``: a cpuset list (cpuset(7) "List format"); checked here, bounded by the host later."""
    text = str(value).strip()
    ok = bool(text)
    for part in text.split(","):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and (not hi.isdigit() or int(hi) < int(lo))):
            ok = False
    if not ok:
        raise ConfigError(f"{flag} `{value}`: expected a list like 0-3,7")
    return text


def device_numbers(dev: str, flag: str, item: str) -> tuple[int, int]:
    """A block device path (or MAJOR:MINOR) -> its numbers, as Docker's --device-*-bps take."""
    if dev[:1].isdigit() and ":" in dev:
        major, _, minor = dev.partition(":")
        if major.isdigit() and minor.isdigit():
            return int(major), int(minor)
    try:
        st = os.stat(dev)
    except OSError as e:
        raise ConfigError(f"{flag} `{item}`: device `{dev}`: {e.strerror}") from None
    if (st.st_mode & 0o170000) != 0o060000:
        raise ConfigError(f"{flag} `{item}`: `{dev}` is not a block device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def device_rates(items: tuple[str, ...], flag: str, iops: bool) -> list[dict[str, int]]:
    """``--device-read-bps /dev/sda:1mb`` -> [{"major": 8, "minor": 0, "rate": 1048576}]."""
    out = []
    for item in items:
        dev, sep, rate = str(item).rpartition(":")
        if not sep or not dev or not rate:
            raise ConfigError(f"{flag} `{item}`: expected DEVICE:RATE (e.g. /dev/sda:{'100' if iops else '1mb'})")
        major, minor = device_numbers(dev, flag, item)
        n = parse_int(rate, flag, 0) if iops else parse_bytes(rate, flag)
        if n < 0:
            raise ConfigError(f"{flag} `{item}`: the rate must not be negative")
        out.append({"major": major, "minor": minor, "rate": n})
    return out


def weight_devices(items: tuple[str, ...]) -> list[dict[str, int]]:
    out = []
    for item in items:
        dev, sep, w = str(item).rpartition(":")
        if not sep or not dev:
            raise ConfigError(f"--blkio-weight-device `{item}`: expected DEVICE:WEIGHT")
        major, minor = device_numbers(dev, "--blkio-weight-device", item)
        out.append({"major": major, "minor": minor, "weight": parse_int(w, "--blkio-weight-device", 10, 1000)})
    return out


# --- cgroup v2 <-> v1 weight scales (crun.1 "CGROUP v2" conversion table) ------------------
def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) -> cpu.weight (1..10000), crun's and runc's linear formula."""
    shares = min(max(shares, MIN_SHARES), MAX_SHARES)
    return 1 + ((shares - 2) * 9999) // 262142


def weight_to_shares(weight: int) -> int:
    """The inverse, rounded up so that shares_to_weight(weight_to_shares(w)) == w."""
    return 2 + -(-(weight - 1) * 262142 // 9999)


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) -> io.weight (1..10000), as crun converts it."""
    return 1 + ((weight - 10) * 9999) // 990


def io_to_blkio_weight(weight: int) -> int:
    """io.weight (1..10000) -> the nearest blkio.weight (10..1000) for a cgroup v1 host."""
    return min(1000, max(10, 10 + round((weight - 1) * 990 / 9999)))


# --- the flags -> linux.resources -------------------------------------------------------
def memory(o: RunOptions) -> dict[str, Any]:
    mem: dict[str, Any] = {}
    limit = parse_bytes(o.memory, "--memory") if o.memory not in (None, "") else None
    if limit is not None and limit > 0:
        if limit < MIN_MEMORY:
            raise ConfigError(f"--memory `{o.memory}`: the minimum memory limit is 6MiB")
        mem["limit"] = limit
    if o.memory_swap not in (None, ""):
        swap = -1 if str(o.memory_swap).strip() == "-1" else parse_bytes(o.memory_swap, "--memory-swap")
        if "limit" not in mem:
            raise ConfigError("--memory-swap: needs --memory too (it is the total of memory and swap)")
        if swap != -1 and swap != 0 and swap < mem["limit"]:
            raise ConfigError(f"--memory-swap `{o.memory_swap}`: must be at least --memory "
                              "(it is the total of memory and swap; -1 for unlimited swap)")
        if swap != 0:
            mem["swap"] = swap
    if "limit" in mem and "swap" not in mem:
        mem["swap"] = 2 * mem["limit"]  # Docker's default: as much swap as memory
    if o.memory_reservation not in (None, ""):
        res = parse_bytes(o.memory_reservation, "--memory-reservation")
        if "limit" in mem and res > mem["limit"]:
            raise ConfigError(f"--memory-reservation `{o.memory_reservation}`: must be below --memory")
        if res > 0:
            mem["reservation"] = res
    if o.memory_swappiness not in (None, ""):
        n = parse_int(o.memory_swappiness, "--memory-swappiness", -1, 100)
        if n >= 0:
            mem["swappiness"] = n
    if o.oom_kill_disable:
        mem["disableOOMKiller"] = True
    return mem


def cpu(o: RunOptions) -> dict[str, Any]:
    c: dict[str, Any] = {}
    if o.cpus not in (None, ""):
        if o.cpu_period not in (None, "") or o.cpu_quota not in (None, ""):
            raise ConfigError("--cpus: conflicts with --cpu-period/--cpu-quota (give one or the other)")
        try:
            n = float(str(o.cpus).strip())
        except ValueError:
            raise ConfigError(f"--cpus `{o.cpus}`: expected a number of CPUs like 1.5") from None
        ncpu = len(os.sched_getaffinity(0)) or os.cpu_count() or 1  # Go's runtime.NumCPU, as Docker
        if n < 0 or (n > 0 and (n < 0.01 or n > ncpu)):
            raise ConfigError(f"--cpus `{o.cpus}`: range of CPUs is from 0.01 to {ncpu}.00, "
                              f"as there are only {ncpu} CPUs available")
        if n > 0:
            c["period"] = CFS_PERIOD
            c["quota"] = int(round(n * CFS_PERIOD))
    if o.cpu_period not in (None, ""):
        c["period"] = parse_int(o.cpu_period, "--cpu-period", 1000, 1_000_000)
    if o.cpu_quota not in (None, ""):
        q = parse_int(o.cpu_quota, "--cpu-quota", -1)
        if 0 < q < 1000:
            raise ConfigError(f"--cpu-quota `{o.cpu_quota}`: the minimum is 1000 (µs), or -1 for none")
        if q != 0:
            c["quota"] = q
    if o.cpu_shares not in (None, "") and o.cpu_weight not in (None, ""):
        raise ConfigError("--cpu-shares and --cpu-weight: give one (they are the v1 and v2 scales "
                          "of the same setting)")
    if o.cpu_shares not in (None, ""):
        s = parse_int(o.cpu_shares, "--cpu-shares", 0, MAX_SHARES)
        if s:
            c["shares"] = max(s, MIN_SHARES)
    if o.cpu_weight not in (None, ""):
        c["shares"] = weight_to_shares(parse_int(o.cpu_weight, "--cpu-weight", 1, 10000))
    if o.cpuset_cpus not in (None, ""):
        c["cpus"] = parse_cpu_list(o.cpuset_cpus, "--cpuset-cpus")
    if o.cpuset_mems not in (None, ""):
        c["mems"] = parse_cpu_list(o.cpuset_mems, "--cpuset-mems")
    return c


def block_io(o: RunOptions) -> dict[str, Any]:
    b: dict[str, Any] = {}
    if o.blkio_weight not in (None, "") and o.io_weight not in (None, ""):
        raise ConfigError("--blkio-weight and --io-weight: give one (they are the v1 and v2 scales)")
    if o.blkio_weight not in (None, ""):
        w = parse_int(o.blkio_weight, "--blkio-weight", 0, 1000)
        if 0 < w < 10:
            raise ConfigError(f"--blkio-weight `{o.blkio_weight}`: range is 10 to 1000 (0 to leave it unset)")
        if w:
            b["weight"] = w
    if o.blkio_weight_device:
        b["weightDevice"] = weight_devices(o.blkio_weight_device)
    for flag, field, key, iops in (("--device-read-bps", "device_read_bps", "throttleReadBpsDevice", False),
                                   ("--device-write-bps", "device_write_bps", "throttleWriteBpsDevice", False),
                                   ("--device-read-iops", "device_read_iops", "throttleReadIOPSDevice", True),
                                   ("--device-write-iops", "device_write_iops", "throttleWriteIOPSDevice", True)):
        items = getattr(o, field)
        if items:
            b[key] = device_rates(tuple(items), flag, iops)
    return b


def unified(o: RunOptions) -> dict[str, str]:
    """--io-weight and Podman's --cgroup-conf KEY=VALUE: cgroup v2 files, written as given."""
    out: dict[str, str] = {}
    for item in o.cgroup_conf:
        key, eq, value = str(item).partition("=")
        if not eq or not key or "/" in key or key.startswith("."):
            raise ConfigError(f"--cgroup-conf `{item}`: expected FILE=VALUE (e.g. memory.high=1g)")
        out[key] = value
    if o.io_weight not in (None, ""):
        out["io.weight"] = f"default {parse_int(o.io_weight, '--io-weight', 1, 10000)}"
    return out


def from_options(o: RunOptions) -> dict[str, Any] | None:
    """The OCI ``linux.resources`` object the flags ask for (None: no limit at all)."""
    res: dict[str, Any] = {}
    for key, part in (("memory", memory(o)), ("cpu", cpu(o)), ("blockIO", block_io(o)),
                      ("unified", unified(o))):
        if part:
            res[key] = part
    if o.pids_limit not in (None, ""):
        n = parse_int(o.pids_limit, "--pids-limit")
        res["pids"] = {"limit": n if n > 0 else -1}  # Docker: 0 or -1 means unlimited
    return res or None


def cgroup_parent(value: str | None, default: str) -> str:
    """``--cgroup-parent``: an absolute cgroup path (a relative one is taken from the root,
    as Docker's cgroupfs driver does).  Never inside ``process_api`` (the sandbox's own)."""
    if value in (None, ""):
        return default
    text = str(value).strip()
    parts = [p for p in text.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts) or "\0" in text:
        raise ConfigError(f"--cgroup-parent `{value}`: expected a cgroup path like /nsbox or mygroup")
    if "process_api" in parts:
        raise ConfigError(f"--cgroup-parent `{value}`: the `process_api` cgroup tree is not ours to use")
    return "/" + "/".join(parts)


def rootless_parent(o: RunOptions, host: Host) -> tuple[str | None, str]:
    """Where a rootless container's cgroup goes: under the caller's delegated cgroup v2
    subtree (None and the reason when there is none)."""
    from ..cgroups.delegate import find_delegated

    base, why = find_delegated(host.euid)
    if base is None:
        return None, why
    if o.cgroup_parent not in (None, ""):
        p = cgroup_parent(o.cgroup_parent, "")
        return (p if str(o.cgroup_parent).startswith("/") else base + p), ""
    return f"{base}/nsbox", ""
