"""Process attributes of config.md/config-linux.md applied just before execve:
``linux.personality`` (personality(2)), ``process.scheduler`` (sched_setattr(2)),
``process.ioPriority`` (ioprio_set(2)), ``linux.memoryPolicy``
(set_mempolicy(2)) and, for an exec'd process, ``process.execCPUAffinity.final``
(sched_setaffinity(2)).  ``check`` validates them in the parent, with JSON paths;
``apply`` runs in the child (before seccomp, which may forbid these calls)."""

from __future__ import annotations

import os

from ..kernel.errors import KernelError

PERSONALITY = {"LINUX": 0x0000, "LINUX32": 0x0008}
POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4, "SCHED_IDLE": 5,
            "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 1, "SCHED_FLAG_RECLAIM": 2, "SCHED_FLAG_DL_OVERRUN": 4,
               "SCHED_FLAG_KEEP_POLICY": 8, "SCHED_FLAG_KEEP_PARAMS": 16, "SCHED_FLAG_UTIL_CLAMP_MIN": 32,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 64}
IO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
MPOL_MODES = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3, "MPOL_LOCAL": 4,
              "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}
MPOL_FLAGS = {"MPOL_F_STATIC_NODES": 1 << 15, "MPOL_F_RELATIVE_NODES": 1 << 14, "MPOL_F_NUMA_BALANCING": 1 << 13}
# (x86_64, aarch64)
_NR = {"sched_setattr": (314, 274), "ioprio_set": (251, 30), "set_mempolicy": (238, 237)}


def _nr(name: str) -> int:
    return _NR[name][1 if os.uname().machine == "aarch64" else 0]


def parse_list(text: str) -> list[int]:
    """``0-3,7`` -> [0, 1, 2, 3, 7]; ValueError if malformed."""
    out: list[int] = []
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ValueError(f"`{text}` is not a list such as 0-3,7")
        out += range(int(lo), int(hi) + 1) if dash else [int(lo)]
    return out


def _get(obj, key, default=None):
    return obj.get(key, default) if isinstance(obj, dict) else default


def check(process, linux) -> list[tuple[str, str]]:
    """(JSON path, problem) for each invalid value."""
    out: list[tuple[str, str]] = []
    pers = linux.personality if linux is not None else None
    if pers is not None:
        if _get(pers, "domain") not in PERSONALITY:
            out.append(("linux.personality.domain", f"`{_get(pers, 'domain')}` is not LINUX or LINUX32"))
        if _get(pers, "flags"):
            out.append(("linux.personality.flags", "no flag is supported (runtime-spec 1.3.0)"))
    sched = process.scheduler if process is not None else None
    if sched is not None:
        if _get(sched, "policy") not in POLICIES:
            out.append(("process.scheduler.policy", f"`{_get(sched, 'policy')}` is not a scheduling policy"))
        for i, f in enumerate(_get(sched, "flags") or []):
            if f not in SCHED_FLAGS:
                out.append((f"process.scheduler.flags[{i}]", f"`{f}` is not a scheduling flag"))
    io = process.io_priority if process is not None else None
    if io is not None:
        if _get(io, "class") not in IO_CLASSES:
            out.append(("process.ioPriority.class", f"`{_get(io, 'class')}` is not an I/O scheduling class"))
        if not isinstance(_get(io, "priority"), int) or not 0 <= _get(io, "priority") <= 7:
            out.append(("process.ioPriority.priority", "must be an integer from 0 to 7"))
    mp = linux.memory_policy if linux is not None else None
    if mp is not None:
        if _get(mp, "mode") not in MPOL_MODES:
            out.append(("linux.memoryPolicy.mode", f"`{_get(mp, 'mode')}` is not a memory policy"))
        for i, f in enumerate(_get(mp, "flags") or []):
            if f not in MPOL_FLAGS:
                out.append((f"linux.memoryPolicy.flags[{i}]", f"`{f}` is not a memory policy flag"))
        if _get(mp, "nodes"):
            try:
                parse_list(mp["nodes"])
            except ValueError as e:
                out.append(("linux.memoryPolicy.nodes", str(e)))
    aff = process.exec_cpu_affinity if process is not None else None
    for key in ("initial", "final"):
        if _get(aff, key):
            try:
                parse_list(aff[key])
            except ValueError as e:
                out.append((f"process.execCPUAffinity.{key}", str(e)))
    return out


def wanted(launch) -> bool:
    p, lx = launch.process, launch.linux
    return any(x is not None for x in (p.scheduler, p.io_priority, p.exec_cpu_affinity, lx.personality,
                                       lx.memory_policy))


def apply(launch) -> None:
    import ctypes

    p, lx = launch.process, launch.linux
    libc = ctypes.CDLL(None, use_errno=True)
    if lx.personality is not None:
        if libc.personality(PERSONALITY[lx.personality["domain"]]) == -1:
            raise KernelError(ctypes.get_errno(), f"personality {lx.personality['domain']}")
    if lx.memory_policy is not None:
        _mempolicy(libc, lx.memory_policy)
    if p.io_priority is not None:
        io = p.io_priority
        if libc.syscall(_nr("ioprio_set"), 1, 0, IO_CLASSES[io["class"]] << 13 | io["priority"]) == -1:
            raise KernelError(ctypes.get_errno(), f"ioprio_set {io['class']} {io['priority']}")
    if p.scheduler is not None:
        _scheduler(libc, p.scheduler)
    final = _get(p.exec_cpu_affinity, "final")
    if final and launch.fifo_fd < 0:  # an exec'd process (not applicable to init: config.md)
        try:
            os.sched_setaffinity(0, parse_list(final))
        except OSError as e:
            raise KernelError(e.errno or 0, f"sched_setaffinity {final}") from None


def _scheduler(libc, s: dict) -> None:
    import ctypes

    flags = 0
    for f in s.get("flags") or []:
        flags |= SCHED_FLAGS[f]
    import struct

    attr = struct.pack("=IIQiIQQQ", 48, POLICIES[s["policy"]], flags, s.get("nice", 0), s.get("priority", 0),
                       s.get("runtime", 0), s.get("deadline", 0), s.get("period", 0))
    buf = ctypes.create_string_buffer(attr)
    if libc.syscall(_nr("sched_setattr"), 0, buf, 0) == -1:
        raise KernelError(ctypes.get_errno(), f"sched_setattr {s['policy']}")


def _mempolicy(libc, mp: dict) -> None:
    import ctypes

    mode = MPOL_MODES[mp["mode"]]
    for f in mp.get("flags") or []:
        mode |= MPOL_FLAGS[f]
    nodes = parse_list(mp["nodes"]) if mp.get("nodes") else []
    words = (max(nodes) // 64 + 1) if nodes else 1
    mask = (ctypes.c_ulong * words)()
    for n in nodes:
        mask[n // 64] |= 1 << (n % 64)
    if libc.syscall(_nr("set_mempolicy"), mode, mask if nodes else None, words * 64 if nodes else 0) == -1:
        raise KernelError(ctypes.get_errno(), f"set_mempolicy {mp['mode']} nodes={mp.get('nodes', '')}")
