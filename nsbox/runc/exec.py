"""``nsbox-runc exec [OPTIONS] ID [COMMAND ARGS...]``: a new process in a container.

The process is ``--process FILE`` (a process.json, config.md "process"), or the
container's own process with the inline flags applied (``--cwd``, ``--env``,
``--user UID[:GID]``, ``--additional-gids``, ``--cap``, ``--tty``,
``--no-new-privs``).  It joins the container through the engine's exec path
(runtime/exec.py + join.py: namespaces, cgroup, security, the CVE defences).
``--detach`` returns once it runs (it is then our caller's subreaper's child);
otherwise we wait and exit with its status."""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..runtime import state as S
from .opts import Opt, parse

OPTIONS = [
    Opt("-p --process", "process", help="a process.json to run"),
    Opt("-d --detach", "detach", "bool", help="do not wait for the process"),
    Opt("--pid-file", "pid_file", help="write the process's pid to this file"),
    Opt("--console-socket", "console_socket", help="unix socket that receives the pty master"),
    Opt("-t --tty", "tty", "bool", help="allocate a pseudo-terminal"),
    Opt("--cwd", "cwd", help="working directory in the container"),
    Opt("-e --env", "env", "list", help="KEY=VALUE added to the environment"),
    Opt("-u --user", "user", help="UID[:GID]"),
    Opt("-g --additional-gids", "gids", "list", help="a supplementary group id"),
    Opt("-c --cap", "cap", "list", help="a capability added to the process"),
    Opt("--no-new-privs", "nnp", "bool", help="set no_new_privs"),
    Opt("--preserve-fds", "preserve_fds", help="accepted (no fds above 2 are passed)"),
    Opt("--apparmor", "apparmor", help="ignored: AppArmor is not enabled here"),
    Opt("--process-label", "label", help="ignored: SELinux is not enabled here"),
    Opt("--ignore-paused", "ignore_paused", "bool", help="exec into a paused container"),
    Opt("--cgroup", "cgroup", "list", help="accepted (the container's cgroup is used)"),
]


def main(name: str, argv: list[str]) -> int:
    from ..runtime.exec import spawn
    from .opts import UsageError
    from .store import lookup, need, store

    v, pos = parse(name, "exec [OPTIONS] ID [COMMAND ARGS...]", OPTIONS, argv, positionals=1)
    if not pos:
        raise UsageError(f"{name}: a container id is required")
    c = lookup(store(), pos[0])
    c.lock(shared=True)
    try:
        allowed = (S.CREATED, S.RUNNING, S.PAUSED) if v["ignore_paused"] else (S.CREATED, S.RUNNING)
        need(c, "exec", *allowed)
        proc = process(c, v, pos[1:])
        if proc.terminal and v["detach"] and not v["console_socket"]:
            raise ConfigError("exec: a terminal with --detach needs --console-socket")
        if proc.terminal and v["console_socket"]:
            from .console import connect

            v["console"] = connect(v["console_socket"])
        pidfd = _pidfd(c)
        try:
            pid, master = spawn(c, None, pidfd, make=lambda: request(c, proc))
        finally:
            os.close(pidfd)
    finally:
        c.unlock()
    return after(pid, master, v)


def _pidfd(c: S.Container) -> int:
    from .. import procfs
    from ..errors import Conflict

    pid = c.state.get("pid", 0)
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        raise Conflict(f"exec `{c.id}`: container is stopped") from None
    if procfs.start_time(pid) != c.state.get("pidStart"):
        os.close(fd)
        raise Conflict(f"exec `{c.id}`: container is stopped")
    return fd


def after(pid: int, master: int, v: dict) -> int:
    if v["pid_file"]:
        from .console import write_pid_file

        write_pid_file(v["pid_file"], pid)
    if master >= 0 and v["console_socket"]:
        from .console import send_master

        try:
            send_master(v["console_socket"], master, v.get("console"))
        finally:
            os.close(master)
        master = -1
    if v["detach"]:
        return 0
    from ..cli.foreground import Forwarder
    from ..runtime.exec import wait

    fwd = Forwarder(early="keep")
    fwd.install()
    fwd.attach(pid)
    try:
        if master >= 0:
            from ..cli.terminal import Terminal

            with Terminal(master) as term:
                term.pump(pid)
            os.close(master)
        return wait(pid)
    finally:
        fwd.restore()


def process(c: S.Container, v: dict, args: list[str]):
    """The process to run: --process FILE, or the container's with the flags applied."""
    from .. import jsonio
    from ..spec import model

    if v["process"]:
        try:
            data = jsonio.load_file(v["process"])
        except (OSError, ValueError) as e:
            raise ConfigError(f"--process `{v['process']}`: {getattr(e, 'strerror', None) or e}") from None
        proc = model.Process.from_json(data, "process")
        if not proc.args:
            raise ConfigError("process.args: must name the program to run")
        return proc
    if not args:
        raise ConfigError("exec: no command given (nsbox-runc exec ID COMMAND [ARGS...], or --process FILE)")
    cfg = jsonio.load_file(f"{c.path}/config.json")
    base = model.Process.from_json(cfg.get("process") or {"args": args}, "process")
    env = list(base.env) + list(v["env"])
    for i, kv in enumerate(v["env"]):
        if "=" not in kv or kv.startswith("="):
            raise ConfigError(f"--env `{kv}` (#{i + 1}): expected KEY=VALUE")
    user = base.user
    if v["user"]:
        u, _, g = v["user"].partition(":")
        if not u.isdigit() or (g and not g.isdigit()):
            raise ConfigError(f"--user `{v['user']}`: must be UID[:GID] (numbers)")
        user = model.User(uid=int(u), gid=int(g) if g else 0)
    if v["gids"]:
        if not all(g.isdigit() for g in v["gids"]):
            raise ConfigError(f"--additional-gids `{','.join(v['gids'])}`: must be numbers")
        user = user.replace(additional_gids=tuple(int(g) for g in v["gids"]))
    caps = base.capabilities
    if v["cap"]:
        caps = _add_caps(caps or model.Capabilities(), v["cap"])
    if v["cwd"] and not v["cwd"].startswith("/"):
        raise ConfigError(f"--cwd `{v['cwd']}`: must be an absolute path")
    return base.replace(args=tuple(args), env=tuple(env), user=user, capabilities=caps, terminal=bool(v["tty"]),
                        cwd=v["cwd"] or base.cwd, console_size=None,
                        no_new_privileges=base.no_new_privileges or bool(v["nnp"]))


def _add_caps(caps, names: list[str]):
    from ..kernel.caps import canonical

    add = []
    for n in names:
        name = canonical(n)
        if name is None:
            raise ConfigError(f"--cap `{n}`: unknown capability")
        add.append(name)
    return caps.replace(**{k: tuple(dict.fromkeys(getattr(caps, k) + tuple(add)))
                           for k in ("bounding", "effective", "permitted", "inheritable", "ambient")})


def request(c: S.Container, proc):
    """What the joining children need (runtime/exec.py ``request`` for a given process)."""
    from .. import jsonio
    from ..runtime.exec import _setgroups_allowed, exec_spec, namespace_flags, preload
    from ..runtime.join import ExecRequest
    from ..runtime.launch import Launch
    from ..runtime.security import prepare as prepare_security

    spec = exec_spec(jsonio.load_file(f"{c.path}/config.json"))
    st = c.state
    launch = Launch(spec.replace(process=proc), None, fifo_fd=-1, rootless=bool(st.get("rootless")),
                    die_with_parent=False)
    launch.init_wrapper = False
    pid = st["pid"]
    launch.allow_setgroups = _setgroups_allowed(pid)
    req = ExecRequest(launch, pid, namespace_flags(pid), c.id)
    req.interactive = True  # runc passes our stdio on as it is
    if proc.terminal:
        cs = proc.console_size
        if cs is not None and cs.height and cs.width:
            req.winsize = (cs.height, cs.width)
        else:
            from ..runtime.tty import get_winsize

            req.winsize = get_winsize(0) or get_winsize(1)
    prepare_security(launch, f"{c.store.root}/seccomp")
    preload(launch)
    return req
