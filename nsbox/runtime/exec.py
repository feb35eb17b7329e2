"""``nsbox exec``: a new process in every namespace of a running container.

The process gets the container's namespaces (setns on a pidfd of its init:
all at once, user namespace first; /proc/PID/ns files on kernels < 5.8), its
cgroup, its root and working directory, its environment (config.json) plus
``-e``, its user unless ``-u``, and its security settings (runtime/security.py
hooks, called as for init).  The exit status comes back as ``nsbox run``'s
does: the command's own, 126/127 if it cannot be executed, 125 if nsbox fails.
The joining children are in runtime/join.py, with the protocol and the
CVE-2019-5736 / CVE-2024-21626 defences.
"""

from __future__ import annotations

import os

from ..errors import ConfigError, ContainerStateError
from ..trace import mark
from . import state as S
from . import sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..spec import model
    from ..specgen.options import ExecOptions
    from .join import ExecRequest
    from .joincg import CgroupPlan

def spawn_in(opts: ExecOptions, store: S.Store | None = None,
             stdio: tuple[int, int, int] | None = None) -> tuple[int, int]:
    """Start the command in the container: (its pid, our child; a pty master or -1).
    The caller waits for it (``wait``) and owns the master.  ``stdio``: the
    command's stdin, stdout, stderr (else ours, as the CLI's)."""
    from .control import open_init
    from .gc import collect

    mark("exec: start")
    check(opts)
    store = store or S.Store()
    collect(store)
    mark("exec: gc done")
    c = store.lookup(opts.container)
    c.lock(shared=True)  # rm and the recording of an exit wait until we are in
    try:
        pidfd = open_init(c)
        if pidfd is None:
            raise ContainerStateError(f"exec `{opts.container}`: container is not running")
        try:
            pid, master = spawn(c, opts, pidfd, stdio)
            mark("exec: running")
        finally:
            os.close(pidfd)
    finally:
        c.unlock()
    return pid, master


def check(opts: ExecOptions) -> None:
    if not opts.container:
        raise ConfigError("exec: no container given: nsbox exec [OPTIONS] NAME CMD [ARGS...]")
    if not opts.command:
        raise ConfigError("exec: no command given: nsbox exec [OPTIONS] NAME CMD [ARGS...]")
    if opts.workdir is not None and not opts.workdir.startswith("/"):
        raise ConfigError(f"-w `{opts.workdir}`: the working directory must be an absolute path")
    if opts.detach and opts.tty:
        raise ConfigError("exec: -t cannot be used with -d (nothing would read the terminal)")


def request(c: S.Container, opts: ExecOptions) -> ExecRequest:
    """What the joining children need: run in the first of them, while we move it
    into the container's cgroup (see spawn)."""
    from .. import jsonio
    from ..spec import model
    from .join import ExecRequest
    from .launch import Launch

    st = c.state
    try:
        spec = exec_spec(jsonio.load_file(f"{c.path}/config.json"))
    except (OSError, ValueError) as e:
        raise ContainerStateError(f"exec `{opts.container}`: read its config.json: {e}") from None
    base = spec.process or model.Process()
    proc = base.replace(args=tuple(opts.command), env=environment(base, opts), terminal=opts.tty,
                        cwd=opts.workdir or base.cwd, console_size=None)
    launch = Launch(spec.replace(process=proc), None, fifo_fd=-1, rootless=bool(st.get("rootless")),
                    die_with_parent=False)
    launch.init_wrapper = False  # --init wraps the container's PID 1, not what joins it
    pid = st["pid"]
    launch.allow_setgroups = _setgroups_allowed(pid)
    req = ExecRequest(launch, pid, namespace_flags(pid), st.get("name") or c.id[:12])
    req.user = opts.user
    req.home_from_user = opts.user is not None and not any(e.startswith("HOME=") for e in opts.env)
    req.detach = opts.detach
    req.interactive = opts.interactive
    if opts.tty:
        from .tty import get_winsize

        req.winsize = get_winsize(0) or get_winsize(1)
    from .security import prepare as prepare_security

    # capability masks, the seccomp program (compiled when the container started:
    # the same cache as `run`), Landlock rules: checked and built here, before fork
    prepare_security(launch, f"{c.store.root}/seccomp")
    preload(launch)
    return req


def exec_spec(cfg: dict) -> model.Spec:
    """The parts of the container's config an exec'd process needs: its process
    (environment, user, capabilities, rlimits), linux (namespaces, id maps,
    seccomp) and annotations.  Mounts, hooks and sysctls are the container's
    business (its namespaces have them already): building their records would
    double the cost of this step."""
    from ..spec import model

    if not isinstance(cfg, dict):
        raise ValueError("not a JSON object")
    proc, linux = cfg.get("process"), cfg.get("linux")
    if isinstance(linux, dict) and "sysctl" in linux:
        linux = {k: v for k, v in linux.items() if k != "sysctl"}
    return model.Spec(process=model.Process.from_json(proc, "process") if proc is not None else None,
                      linux=model.Linux.from_json(linux, "linux") if linux is not None else None,
                      annotations=dict(cfg.get("annotations") or {}))


def environment(base: model.Process, opts: ExecOptions) -> tuple[str, ...]:
    """The container's environment, then --env-file, then -e (KEY alone passes ours)."""
    env = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in base.env)
    items = []
    for path in opts.env_file:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise ConfigError(f"--env-file `{path}`: {e.strerror}") from None
        items += [(ln.strip(), f"--env-file {path}:{n}") for n, ln in enumerate(lines, 1)
                  if ln.strip() and not ln.strip().startswith("#")]
    items += [(e, "-e") for e in opts.env]
    for item, where in items:
        key, eq, value = item.partition("=")
        if not key or "\0" in item:
            raise ConfigError(f"{where} `{item}`: expected KEY=VALUE")
        if eq:
            env[key] = value
        elif os.environ.get(key) is not None:  # -e KEY passes the caller's value (Docker's -e)
            env[key] = os.environ.get(key, "")
    if opts.tty and "TERM" not in env:
        env["TERM"] = os.environ.get("TERM", "xterm")
    return tuple(f"{k}={v}" for k, v in env.items())


def namespace_flags(pid: int) -> int:
    """CLONE_NEW* of each namespace of ``pid`` that is not ours (joining our own
    user namespace is EINVAL; the others are skipped as nsenter -a does)."""
    from ..kernel.ns import KINDS

    flags = 0
    for flag, link in KINDS.values():
        try:
            theirs = os.stat(f"/proc/{pid}/ns/{link}")
        except FileNotFoundError:
            continue  # a kernel without this kind (time: < 5.6)
        mine = os.stat(f"/proc/self/ns/{link}")
        if (theirs.st_dev, theirs.st_ino) != (mine.st_dev, mine.st_ino):
            flags |= flag
    return flags


def _setgroups_allowed(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/setgroups") as f:
            return f.read().strip() != "deny"
    except OSError:
        return True


def _cgroups(c: S.Container) -> list[str]:
    """The container's own cgroups (as recorded): joined, and nothing else."""
    return [r["path"] for r in c.state.get("resources", []) if r.get("kind") == "cgroup" and r.get("path")]


def preload(launch) -> None:
    """Import what the children use after joining the mount namespace, where the
    host's files (this package, the standard library) are out of reach."""
    from . import security

    mods = ["nsbox.kernel.ids", "nsbox.kernel.prctl", "nsbox.kernel.libc", "nsbox.spec.model", "fcntl"]
    if launch.procattrs:
        mods += ["nsbox.runtime.procattrs", "struct"]
    if launch.process.terminal:
        mods += ["termios", "struct"]
    mods += security.preload(launch)
    for name in mods:
        __import__(name)  # (importlib.import_module would import importlib and warnings: ~1 ms)


def spawn(c: S.Container, opts: ExecOptions | None, pidfd: int,
          stdio: tuple[int, int, int] | None = None, make=None) -> tuple[int, int]:
    """Fork the joining child; return (pid of the command, pty master or -1) once
    it has exec'd.  The command is our child (CLONE_PARENT: no subreaper).

    The child builds its request itself (config.json, the security preparation,
    imports) while we are free: we move it into cgroups only where it cannot
    enter them itself (join.first).  ``make``: builds the request instead of
    ``request(c, opts)`` (nsbox-runc's exec, from a process.json)."""
    from .joincg import cgroup_plan

    plan = cgroup_plan(_cgroups(c))
    parent, child = sync.socketpair()
    jpid = os.fork()
    if jpid == 0:
        parent.close()
        for target, fd in enumerate(stdio or ()):
            if fd >= 0 and fd != target:
                os.dup2(fd, target)  # the API's pipes (the originals are close-on-exec)
        from .join import first

        first(make or (lambda: request(c, opts)), child, pidfd, plan)  # never returns
    child.close()
    mark("exec: forked")
    pid, master = 0, -1
    try:
        try:
            while True:
                msg = _recv(parent)
                kind = msg.get("type")
                if kind == "error":
                    sync.raise_error(msg)
                elif kind == "migrate":
                    _migrate_child(jpid, plan, msg.get("into", False), parent)
                elif kind == "pid":
                    pid = msg["pid"]
                    break
                else:
                    raise sync.ProtocolError(f"join the container: unexpected message {kind!r}")
            mark("exec: joined")
        finally:
            _reap(jpid)
        while True:
            msg, fds = sync.recv(parent)
            if msg is None:
                return pid, master  # EOF: the socket closed on execve
            if msg.get("type") == "error":
                sync.raise_error(msg)
            if msg.get("type") == "pty" and fds:
                master = fds[0]
    except BaseException:
        if pid:
            _kill(pid)
        if master >= 0:
            os.close(master)
        raise
    finally:
        parent.close()


def _recv(sock) -> dict:
    try:
        msg, _ = sync.recv(sock)
    except ConnectionResetError:  # it exited with our message unread: its report follows
        msg, _ = sync.recv(sock)
    if msg is None:
        raise sync.ProtocolError("join the container: the joining process exited before reporting")
    return msg


def _migrate_child(jpid: int, plan: CgroupPlan, into: bool, sock) -> None:
    """The child cannot enter (some of) the cgroups itself, or cannot clone its
    child into ours: write its pid to cgroup.procs (its child, CLONE_PARENT, is ours)."""
    from .joincg import migrate

    procs = plan.parent_procs + ([f"{plan.into}/cgroup.procs"] if into and plan.into else [])
    failed = migrate(jpid, procs, plan.parent_unknown)
    mark("exec: cgroup joined")
    if failed is not None:
        _kill(jpid)
        try:
            msg = _recv(sock)  # its own report, if it failed first
        except sync.ProtocolError:
            raise failed from None
        if msg.get("type") == "error":
            sync.raise_error(msg)
        raise failed
    try:
        sync.send(sock, {"type": "cgroup"})
    except OSError:
        pass  # it failed and exited: its error is waiting for us


def _reap(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return 255 << 8
        except InterruptedError:
            continue


def _kill(pid: int) -> None:
    import _signal

    try:
        os.kill(pid, _signal.SIGKILL)
    except OSError:
        pass
    _reap(pid)


def wait(pid: int) -> int:
    """The command's exit status, as ``nsbox run`` reports one (128+N for signal N)."""
    code = os.waitstatus_to_exitcode(_reap(pid))
    return 128 - code if code < 0 else code
