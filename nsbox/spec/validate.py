"""validate(spec): small checks, each reporting the JSON path of the problem.

Like runc's configs/validate: a list of independent checks, so one pass reports
everything wrong ("linux.uidMappings[0].size: must be > 0").  Structure and types
were checked by loading (record.py); these are the rules between fields.
"""

from __future__ import annotations

from .model import Spec
from .record import SpecError

NS_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
PROPAGATIONS = ("private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable")
RLIMITS = ("RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
           "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
           "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK")


def _version(s: Spec, out: list[SpecError]) -> None:
    parts = s.oci_version.split(".")
    if len(parts) < 2 or parts[0] != "1" or not all(p.split("-")[0].isdigit() for p in parts[:3]):
        out.append(SpecError("ociVersion", f"`{s.oci_version}` is not a 1.x version this runtime supports"))


def _process(s: Spec, out: list[SpecError]) -> None:
    p = s.process
    if p is None:
        return
    if not p.args and not p.command_line:
        out.append(SpecError("process.args", "must name the program to run"))
    if not p.cwd.startswith("/"):
        out.append(SpecError("process.cwd", f"`{p.cwd}` must be an absolute path"))
    for i, kv in enumerate(p.env):
        if "=" not in kv or kv.startswith("="):
            out.append(SpecError(f"process.env[{i}]", f"`{kv}` is not KEY=VALUE"))
    seen = set()
    for i, rl in enumerate(p.rlimits):
        where = f"process.rlimits[{i}]"
        if rl.type not in RLIMITS:
            out.append(SpecError(f"{where}.type", f"`{rl.type}` is not a resource of setrlimit(2)"))
        if rl.type in seen:
            out.append(SpecError(f"{where}.type", f"`{rl.type}` is given twice"))
        seen.add(rl.type)
        if rl.soft > rl.hard:
            out.append(SpecError(where, f"soft limit {rl.soft} is above the hard limit {rl.hard}"))
    if p.console_size is not None and not p.terminal:
        out.append(SpecError("process.consoleSize", "needs process.terminal"))


def _mounts(s: Spec, out: list[SpecError]) -> None:
    for i, m in enumerate(s.mounts):
        if not m.destination.startswith("/"):
            out.append(SpecError(f"mounts[{i}].destination", f"`{m.destination}` must be an absolute path"))


def _namespaces(s: Spec, out: list[SpecError]) -> None:
    linux = s.linux
    if linux is None:
        return
    kinds: dict[str, int] = {}
    for i, ns in enumerate(linux.namespaces):
        where = f"linux.namespaces[{i}]"
        if ns.type not in NS_TYPES:
            out.append(SpecError(f"{where}.type", f"`{ns.type}` is not one of {', '.join(NS_TYPES)}"))
        if ns.type in kinds:
            out.append(SpecError(f"{where}.type", f"`{ns.type}` is listed twice"))
        kinds[ns.type] = i
        if ns.path is not None and not ns.path.startswith("/"):
            out.append(SpecError(f"{where}.path", f"`{ns.path}` must be an absolute path"))
    user = "user" in kinds
    for field, maps in (("uidMappings", linux.uid_mappings), ("gidMappings", linux.gid_mappings)):
        if maps and not user:
            out.append(SpecError(f"linux.{field}", "needs a user namespace in linux.namespaces"))
        for i, mp in enumerate(maps):
            if mp.size <= 0:
                out.append(SpecError(f"linux.{field}[{i}].size", "must be > 0"))
    if user and linux.namespaces[kinds["user"]].path is None and not linux.uid_mappings:
        out.append(SpecError("linux.uidMappings", "a new user namespace needs uid mappings"))
    if bool(linux.uid_mappings) != bool(linux.gid_mappings):
        out.append(SpecError("linux.gidMappings", "uidMappings and gidMappings go together"))
    for clock in linux.time_offsets:
        if clock not in ("monotonic", "boottime"):
            out.append(SpecError(f"linux.timeOffsets.{clock}", "only monotonic and boottime can be offset"))
    if linux.time_offsets and ("time" not in kinds or linux.namespaces[kinds["time"]].path):
        out.append(SpecError("linux.timeOffsets", "needs a new time namespace"))
    if (s.hostname is not None or s.domainname is not None) and "uts" not in kinds:
        out.append(SpecError("hostname", "needs a new UTS namespace"))
    if linux.rootfs_propagation is not None and linux.rootfs_propagation not in PROPAGATIONS:
        out.append(SpecError("linux.rootfsPropagation", f"`{linux.rootfs_propagation}` is not one of "
                             f"{', '.join(PROPAGATIONS)}"))
    for i, d in enumerate(linux.devices):
        if d.type not in ("c", "b", "u", "p"):
            out.append(SpecError(f"linux.devices[{i}].type", f"`{d.type}` is not c, b, u or p"))
        if not d.path.startswith("/dev/"):
            out.append(SpecError(f"linux.devices[{i}].path", f"`{d.path}` must be under /dev"))
    for kind_path, name in ((linux.masked_paths, "maskedPaths"), (linux.readonly_paths, "readonlyPaths")):
        for i, p in enumerate(kind_path):
            if not p.startswith("/"):
                out.append(SpecError(f"linux.{name}[{i}]", f"`{p}` must be an absolute path"))


def _root(s: Spec, out: list[SpecError]) -> None:
    mount_ns = s.linux is not None and any(ns.type == "mount" for ns in s.linux.namespaces)
    if mount_ns and (s.root is None or not s.root.path):
        out.append(SpecError("root.path", "is required with a mount namespace"))


def _shapes(s: Spec, out: list[SpecError]) -> None:
    """The parts kept as plain JSON, against config-linux.md's types (shapes.py)."""
    if s.linux is None:
        return
    from . import shapes

    if s.linux.resources is not None:
        shapes.resources(s.linux.resources, out)
    if s.linux.net_devices:
        shapes.net_devices(s.linux.net_devices, out)


CHECKS = [_version, _root, _process, _mounts, _namespaces, _shapes]


def problems(spec: Spec) -> list[SpecError]:
    out: list[SpecError] = []
    for check in CHECKS:
        check(spec, out)
    return out


def validate(spec: Spec) -> None:
    """Raise ConfigError listing every problem (one per line after the first)."""
    found = problems(spec)
    if found:
        from ..errors import ConfigError

        raise ConfigError("invalid config: " + "; ".join(str(e) for e in found))
