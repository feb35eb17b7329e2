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
    from . import privileges

    mods = ["nsbox.kernel.prctl", "nsbox.runtime.privileges"]
    if launch.process.rlimits:
        mods.append("resource")
    return mods + privileges.preload(launch)


def prepare(launch: Launch, cache_dir: str | None) -> None:
    """Parent side, before fork: check and compile what the hooks below apply
    (capability masks, the seccomp BPF program, Landlock rules, sysctls)."""
    from . import privileges

    privileges.prepare(launch, cache_dir)
    if launch.linux.sysctl:
        from .sysctl import check

        launch.sysctl = check(launch)


def before_user_switch(launch: Launch) -> None:
    proc = launch.process
    if proc.rlimits:
        import resource

        for rl in proc.rlimits:
            res = RLIMITS.get(rl.type)
            if res is None:
                raise KernelError(22, f"setrlimit `{rl.type}`: unknown resource")
            inf = resource.RLIM_INFINITY
            soft, hard = (inf if v >= 1 << 63 else v for v in (rl.soft, rl.hard))
            try:
                resource.setrlimit(res, (soft, hard))
            except (OSError, ValueError) as e:
                cur = resource.getrlimit(res)[1]
                hint = None
                if hard == inf and cur != inf or cur != inf and hard > cur:
                    hint = (f"the hard limit is {cur}; raising it needs CAP_SYS_RESOURCE in the "
                            "initial user namespace")
                raise KernelError(getattr(e, "errno", 0) or 1,
                                  f"setrlimit {rl.type} soft={rl.soft} hard={rl.hard}", hint=hint) from None
    if proc.oom_score_adj is not None and not launch.oom_score_set:
        write_oom_score_adj(proc.oom_score_adj)
    from . import privileges

    privileges.before_user_switch(launch)  # seccomp without no_new_privs, bounding set, keepcaps


def write_oom_score_adj(value: int) -> None:
    """Our own /proc/self/oom_score_adj (inherited by children).  Written while
    still dumpable: a non-dumpable process's /proc/self files belong to the
    initial namespace's root, out of reach of a user namespace's root (proc(5))."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as e:
        hint = "lowering it needs CAP_SYS_RESOURCE" if e.errno in (1, 13) else None
        raise KernelError(e.errno or 0, f"write oom_score_adj {value}", hint=hint) from None


def after_user_switch(launch: Launch) -> None:
    """Capabilities (permitted, effective, inheritable, ambient)."""
    from . import privileges

    privileges.after_user_switch(launch)


def before_exec(launch: Launch) -> None:
    if launch.process.no_new_privileges:
        from ..kernel import prctl

        prctl.set_no_new_privs()
    from . import privileges

    privileges.before_exec(launch)  # Landlock, then seccomp
