"""Privilege steps of init, at three points of process.prepare/exec_container.

- before_user_switch: what needs the container's root (rlimits, OOM score);
- after_user_switch: capabilities;
- before_exec: no_new_privs, seccomp, Landlock: as close to execve as possible.
"""

from __future__ import annotations

from ..kernel.errors import KernelError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .launch import Launch

RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


def preload(launch: Launch) -> list[str]:
    """Modules the steps below import lazily (init imports them before pivot_root)."""
    mods = ["nsbox.kernel.prctl"]
    if launch.process.rlimits:
        mods.append("resource")
    return mods


def before_user_switch(launch: Launch) -> None:
    proc = launch.process
    if proc.rlimits:
        import resource

        for rl in proc.rlimits:
            res = RLIMITS.get(rl.type)
            if res is None:
                raise KernelError(22, f"setrlimit `{rl.type}`: unknown resource")
            try:
                resource.setrlimit(res, (rl.soft, rl.hard))
            except (OSError, ValueError) as e:
                raise KernelError(getattr(e, "errno", 0) or 1,
                                  f"setrlimit {rl.type} soft={rl.soft} hard={rl.hard}") from None
    if proc.oom_score_adj is not None:
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(proc.oom_score_adj))
        except OSError as e:
            raise KernelError(e.errno or 0, f"write oom_score_adj {proc.oom_score_adj}") from None


def after_user_switch(launch: Launch) -> None:
    """Capabilities (bounding, permitted, effective, inheritable, ambient)."""


def before_exec(launch: Launch) -> None:
    if launch.process.no_new_privileges:
        from ..kernel import prctl

        prctl.set_no_new_privs()
