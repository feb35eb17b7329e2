"""``nsbox-runc create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] ID``

runtime.md "create": the container's environment is made, its process waits
before execve until ``start``; prestart, createRuntime and createContainer
hooks run once its namespaces exist.  Nothing is left behind on failure.
"""

from __future__ import annotations

import os

from ..errors import ConfigError, Conflict
from ..runtime import state as S
from .opts import Opt, one_id, parse

OPTIONS = [
    Opt("-b --bundle", "bundle", help="the bundle directory (default: the current one)"),
    Opt("--pid-file", "pid_file", help="write the container's pid to this file"),
    Opt("--console-socket", "console_socket", help="unix socket that receives the pty master"),
    Opt("--preserve-fds", "preserve_fds", help="pass this many fds (from 3) to the process"),
    Opt("--no-pivot", "no_pivot", "bool", help="accepted (the root is always pivoted)"),
    Opt("--no-new-keyring", "no_new_keyring", "bool", help="accepted (no session keyring is made)"),
]


def main(name: str, argv: list[str]) -> int:
    v, pos = parse(name, "create [OPTIONS] ID", OPTIONS, argv)
    cid = one_id(name, pos)
    created = create(cid, v, detached=True)
    finish(created, v)
    return 0


def create(cid: str, v: dict, detached: bool):
    from . import bundle as B
    from . import engine
    from .main import warn
    from .store import store

    S.valid_id(cid)
    path = os.path.abspath(v.get("bundle") or ".")
    spec, notes = B.grantable(B.load(path))
    for w in notes + B.ignored(spec):
        warn(w)
    if spec.process.terminal and detached and not v.get("console_socket"):
        raise ConfigError("process.terminal: needs --console-socket (where the pty master is sent)")
    if v.get("console_socket") and not spec.process.terminal:
        raise ConfigError("--console-socket: only with process.terminal true")
    n = v.get("preserve_fds") or "0"
    if not str(n).isdigit():
        raise ConfigError(f"--preserve-fds `{n}`: must be a number")
    st = store()
    st.ensure()
    if os.path.lexists(f"{st.containers_dir}/{cid}"):
        raise Conflict(f"container `{cid}` already exists")
    if v.get("console_socket"):
        from .console import connect

        v["console"] = connect(v["console_socket"])  # a wrong socket fails before anything is made
    hooks = (lambda created: create_hooks(spec, created)) if spec.hooks is not None or (
        spec.linux is not None and spec.linux.net_devices) else None
    opts = engine.CreateOptions(path, int(n), hooks)
    return engine.create(st, cid, spec, opts)


def create_hooks(spec, created) -> None:
    """linux.netDevices, then the hooks prestart, createRuntime (here), createContainer
    (in the container's namespaces)."""
    from .hooks import run_all
    from .store import hook_state

    if spec.linux is not None and spec.linux.net_devices:
        from ..runtime.netdevices import move  # before the hooks: a prestart hook may configure them

        move(spec.linux.net_devices, created.pid)
    if spec.hooks is None:
        return
    state = hook_state(created.container, S.CREATING, created.pid)
    run_all(spec, "prestart", state)
    run_all(spec, "create_runtime", state)
    run_all(spec, "create_container", state, join_pid=created.pid)


def finish(created, v: dict) -> None:
    """After create: pid file, terminal to the console socket; on failure the
    container is removed (runtime.md: an error leaves nothing)."""
    try:
        if v.get("console_socket") and created.pty_master >= 0:
            from .console import send_master

            send_master(v["console_socket"], created.pty_master, v.get("console"))
        if v.get("pid_file"):
            from .console import write_pid_file

            write_pid_file(v["pid_file"], created.pid)
    except BaseException:
        from .delete import destroy

        created.container.release_ownership()
        destroy(created.container, force=True)
        raise
    finally:
        if created.pty_master >= 0 and v.get("console_socket"):
            os.close(created.pty_master)
            created.pty_master = -1
    created.container.release_ownership()
