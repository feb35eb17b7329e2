"""A pool's template (``nsbox.run``'s keywords) and what one run may change.

The template goes through the same RunOptions -> Spec builder as ``nsbox run``,
so a pool sandbox gets a default container's mounts, capabilities,
no_new_privs and seccomp filter.  Per run, only the command, its environment,
working directory and the limits (narrower than the template's) change.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..specgen.options import RunOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# What a pool cannot honour: each run is a fresh private sandbox, started by the pool.
REFUSED = {"name": "a pool's sandboxes have no names", "detach": "pool runs are always waited for",
           "rm": "pool sandboxes are always removed", "tty": "pool runs have no terminal",
           "interactive": "pass input= to run()", "publish": "pool sandboxes have loopback only",
           "ip": "pool sandboxes have loopback only", "share": "pool sandboxes share no namespace",
           "ns": "pool sandboxes join no namespace", "pid": "pool sandboxes share no namespace",
           "ipc": "pool sandboxes share no namespace", "uts": "pool sandboxes share no namespace",
           "cgroupns": "pool sandboxes share no namespace", "time_offset": "pool sandboxes have no "
           "time namespace", "init": "the command is the sandbox's init", "cgroup_parent": "the pool "
           "owns its cgroups", "userns": "the pool makes the user namespace (rootless) itself",
           "uidmap": "the pool maps only the caller (rootless) or no one (root)",
           "gidmap": "the pool maps only the caller (rootless) or no one (root)"}


def run_options(argv: Any, keywords: dict[str, Any]) -> RunOptions:
    """nsbox.run's keywords -> RunOptions (nsbox.api.options: the same conversion,
    TypeError for an unknown keyword, ConfigError naming a keyword's bad value)."""
    from ..api.options import run_options as convert

    return convert(argv, keywords, caller="nsbox.Pool")


def keyword_error(e: ConfigError) -> ConfigError:
    """The builder names CLI flags ("--memory `lots`: ..."): name the keyword instead."""
    from ..api.options import relabel

    return relabel(e)


def check_limits(opts: RunOptions) -> None:
    """The template's limits, parsed before a server is started for them."""
    from ..specgen.options import RESOURCE_FIELDS

    if any(getattr(opts, f) not in (None, (), False, "") for f in RESOURCE_FIELDS):
        from ..specgen.resources import from_options

        try:
            from_options(opts)
        except ConfigError as e:
            raise keyword_error(e) from None


def template_options(keywords: dict[str, Any]) -> RunOptions:
    """A pool template: nsbox.run's keywords minus what a pool decides itself."""
    for key, why in REFUSED.items():
        if keywords.get(key) not in (None, False, (), [], ""):
            raise ConfigError(f"{key} `{keywords[key]!r}`: not supported by a pool ({why})")
    net = keywords.get("network")
    if net not in (None, "none"):
        raise ConfigError(f"network `{net}`: a pool's sandboxes have loopback only (network=\"none\")")
    kw = dict(keywords, network="none", share=("time",))
    opts = run_options(["/bin/true"], kw)
    if opts.read_only and not any(t.partition(":")[0].rstrip("/") == "/tmp" for t in opts.tmpfs):
        opts = opts.replace(tmpfs=(*opts.tmpfs, "/tmp"))  # a read-only root, and a fresh /tmp per run
    check_limits(opts)
    return opts


def check_argv(argv: Any) -> list[str]:
    from ..api.options import command

    return list(command(argv, "pool.run"))


def check_env(env: Any) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, dict):
        raise ConfigError(f"env `{env!r}`: expected a dict of strings")
    for k, v in env.items():
        if not isinstance(k, str) or not k or "=" in k or "\0" in k or not isinstance(v, str) or "\0" in v:
            raise ConfigError(f"env `{{{k!r}: {v!r}}}`: names and values must be strings (a name "
                              "without `=`, neither with NUL bytes)")
    return env


def check_cwd(cwd: Any) -> str | None:
    if cwd is None:
        return None
    if not isinstance(cwd, str) or not cwd.startswith("/") or "\0" in cwd:
        raise ConfigError(f"cwd `{cwd!r}`: the working directory must be an absolute path")
    return cwd


def limits_of(resources: dict | None) -> dict[str, float | None]:
    """The narrowable limits of a ``linux.resources`` object (None: unlimited)."""
    res = resources or {}
    mem = (res.get("memory") or {}).get("limit")
    pids = (res.get("pids") or {}).get("limit")
    cpu = res.get("cpu") or {}
    quota, period = cpu.get("quota"), cpu.get("period")
    return {"memory": mem if mem and mem > 0 else None,
            "pids_limit": pids if pids and pids > 0 else None,
            "cpus": quota / period if quota and period and quota > 0 else None}


def run_limits(template: dict[str, float | None], **asked: Any) -> dict[str, Any] | None:
    """Per-run limits -> the ``linux.resources`` to write for the run (None: the
    template's); a limit wider than the template's is refused."""
    given = {k: v for k, v in asked.items() if v is not None}
    if not given:
        return None
    from ..specgen.resources import from_options

    o = run_options(["/bin/true"], given)
    try:
        res = from_options(o) or {}
    except ConfigError as e:
        raise keyword_error(e) from None
    mine = limits_of(res)
    for key, value in given.items():
        cap = template[key]
        if mine[key] is None:
            raise ConfigError(f"{key} `{value!r}`: a run may narrow the pool's limits, not lift them")
        if cap is not None and mine[key] > cap:
            raise ConfigError(f"{key} `{value!r}`: wider than the pool's limit ({_shown(key, cap)}); "
                              "a run may only narrow it")
    return res


def _shown(key: str, value: float) -> str:
    if key == "memory":
        return f"{int(value)} bytes"
    if key == "cpus":
        return f"{value:g} CPUs"
    return str(int(value))
