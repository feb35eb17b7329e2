"""An image's config applied to what the user asked (Docker's rules).

The command is Entrypoint + Cmd; a command given on the command line replaces
Cmd; ``--entrypoint`` replaces Entrypoint and drops the image's Cmd.  The
image's Env comes first (the user's -e wins); WorkingDir and User apply unless
-w/-u are given; StopSignal is what ``nsbox stop`` sends first.
"""

from __future__ import annotations

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..specgen.options import RunOptions


def _strings(v: object, what: str) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{what}: expected a list of strings")
    return list(v)


def _string(c: dict[str, Any], key: str, image: str) -> str | None:
    """A string field of the image's config (None when absent or empty)."""
    v = c.get(key)
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise ConfigError(f"image `{image}`: {key}: expected a string")
    return v


def parse_entrypoint(value: str) -> list[str]:
    """``--entrypoint``: a JSON array (Podman) or one program (Docker); "" clears it."""
    if value.startswith("["):
        from .. import jsonio

        try:
            v = jsonio.loads(value)
        except ValueError as e:
            raise ConfigError(f"--entrypoint `{value}`: not a JSON array of strings ({e})") from None
        return _strings(v, f"--entrypoint `{value}`")
    return [value] if value else []


def apply(opts: RunOptions, config: dict[str, Any], image: str) -> tuple[RunOptions, str | None]:
    """The options with the image's defaults filled in, and its stop signal."""
    c = config.get("config") or {}
    if not isinstance(c, dict):
        raise ConfigError(f"image `{image}`: its config's `config` is not an object")
    entrypoint = _strings(c.get("Entrypoint"), f"image `{image}`: Entrypoint")
    cmd = _strings(c.get("Cmd"), f"image `{image}`: Cmd")
    if opts.entrypoint is not None:
        entrypoint, cmd = parse_entrypoint(opts.entrypoint), []
    if opts.command:
        cmd = list(opts.command)
    command = tuple(entrypoint + cmd)
    if not command:
        raise ConfigError(f"image `{image}`: no Entrypoint or Cmd in its config; give a command")
    env = tuple(_strings(c.get("Env"), f"image `{image}`: Env")) + tuple(opts.env)
    workdir, user = opts.workdir, opts.user
    if not workdir:
        workdir = _string(c, "WorkingDir", image)
        if workdir is not None and not workdir.startswith("/"):
            raise ConfigError(f"image `{image}`: WorkingDir `{workdir}`: not an absolute path")
    user = user or _string(c, "User", image)
    stop = _string(c, "StopSignal", image)
    return opts.replace(command=command, env=env, workdir=workdir, user=user), stop
