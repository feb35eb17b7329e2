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
    from ..spec.options import ExecOptions
    from .join import ExecRequest

FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGCONT", "SIGALRM")


def exec_in(opts: ExecOptions, store: S.Store | None = None) -> int:
    """Run the command; its exit status (0 at once with ``detach``)."""
    from .control import open_init
    from .gc import collect

    mark("exec: start")
    check(opts)
    store = store or S.Store()
    collect(store)
    mark("exec: gc done")
    c = store.lookup(opts.container)
    fwd = Forwarder()
    if not opts.detach:
        fwd.install()  # from now on a signal is the command's, delivered once it runs
    try:
        c.lock(shared=True)  # rm and the recording of an exit wait until we are in
        try:
            pidfd = open_init(c)
            if pidfd is None:
                raise ContainerStateError(f"exec `{opts.container}`: container is not running")
            try:
                pid, master = spawn(c, opts, pidfd)
                mark("exec: running")
            finally:
                os.close(pidfd)
        finally:
            c.unlock()
        if opts.detach:
            return 0
        fwd.attach(pid)
        return wait(pid, master, opts.interactive)
    finally:
        fwd.restore()


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
        spec = model.load(jsonio.load_file(f"{c.path}/config.json"))
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
        elif key in os.environ:
            env[key] = os.environ[key]
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
    import importlib

    from . import security

    mods = ["nsbox.kernel.ids", "nsbox.kernel.prctl", "nsbox.kernel.libc", "nsbox.spec.model", "fcntl"]
    if launch.process.terminal:
        mods += ["termios", "struct"]
    mods += security.preload(launch)
    for name in mods:
        importlib.import_module(name)


def spawn(c: S.Container, opts: ExecOptions, pidfd: int) -> tuple[int, int]:
    """Fork the joining child; return (pid of the command, pty master or -1) once
    it has exec'd.  The command is our child (CLONE_PARENT, or we are a subreaper).

    The child builds its request itself (config.json, the security preparation,
    imports) while we are free: we move it into cgroups only where it cannot
    enter them itself (join.first)."""
    plan = cgroup_plan(_cgroups(c))
    parent, child = sync.socketpair()
    jpid = os.fork()
    if jpid == 0:
        parent.close()
        from .join import first

        first(lambda: request(c, opts), child, pidfd, plan)  # never returns
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
    child into ours: become a subreaper and write its pid to cgroup.procs."""
    from ..kernel import prctl

    prctl.set_child_subreaper(True)  # before it exits: its child becomes ours
    procs = plan.parent_procs + ([f"{plan.into}/cgroup.procs"] if into and plan.into else [])
    failed = _migrate(jpid, procs, plan.parent_unknown)
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


class CgroupPlan:
    """How the joining child enters the container's cgroups (see cgroup_plan)."""

    def __init__(self, self_join: list[str], into: str | None, parent_procs: list[str],
                 parent_unknown: list[str]) -> None:
        self.self_join = self_join            # v1 ``tasks`` files it writes "0" to itself
        self.into = into                      # a cgroup2 directory it clones the command into
        self.parent_procs = parent_procs      # cgroup.procs files we must write its pid to
        self.parent_unknown = parent_unknown  # cgroups under no hierarchy we found: the manager's job

    @property
    def needs_parent(self) -> bool:
        return bool(self.parent_procs or self.parent_unknown)


def cgroup_plan(paths: list[str], base: str = "/sys/fs/cgroup") -> CgroupPlan:
    """No grace period on the critical path: moving oneself thread by thread
    through v1 ``tasks`` does not take cgroup_threadgroup_rwsem, and a child
    cloned with CLONE_INTO_CGROUP needs no migration at all; a cgroup.procs
    write waits for an RCU grace period (~10-25 ms here)."""
    self_join: list[str] = []
    procs: list[str] = []
    unknown: list[str] = []
    for path in paths:
        files = procs_files(path, base)
        if not files:
            unknown.append(path)
        for f in files:
            tasks = f"{os.path.dirname(f)}/tasks"
            if os.path.exists(tasks):
                self_join.append(tasks)
            else:
                procs.append(f)
    if len(procs) == 1 and not unknown:
        return CgroupPlan(self_join, os.path.dirname(procs[0]), [], [])
    return CgroupPlan(self_join, None, procs, unknown)


def _migrate(pid: int, procs: list[str], unknown: list[str]) -> BaseException | None:
    """Move the joining child into the container's cgroups that it cannot join
    itself (its child inherits them); this overlaps its own work."""
    from ..kernel.errors import KernelError

    try:
        for f in procs:
            write_file(f, str(pid))
        for path in unknown:  # cgroups mounted somewhere unusual: ask mountinfo
            from ..cgroups.manager import Cgroup

            Cgroup(path).add(pid)
    except KernelError as e:
        return e
    return None


def procs_files(path: str, base: str = "/sys/fs/cgroup") -> list[str]:
    """cgroup.procs of ``path`` in each hierarchy mounted under ``base`` (v2 at
    ``base``, v1 and hybrid below it), one per hierarchy: cpu and cpuacct are
    often links to cpu,cpuacct.  Cheaper than parsing mountinfo on exec's path."""
    out: list[str] = []
    if os.path.exists(f"{base}{path}/cgroup.procs"):
        return [f"{base}{path}/cgroup.procs"]
    seen: set[str] = set()
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return out
    for h in names:
        f = f"{base}/{h}{path}/cgroup.procs"
        real = os.path.realpath(f"{base}/{h}")
        if real not in seen and os.path.exists(f):
            seen.add(real)
            out.append(f)
    return out


def write_file(path: str, value: str) -> None:
    from ..kernel.errors import KernelError

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise KernelError(e.errno or 0, f"write `{value}` to `{path}`", path) from None


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


class Forwarder:
    """Pass the signals we get to the command; those that arrive before it runs
    are kept and delivered once it does (a SIGTERM right after start is not lost)."""

    def __init__(self) -> None:
        self.pid = 0
        self.pending: list[int] = []
        self.saved: dict[int, object] = {}

    def install(self) -> None:
        import _signal

        for name in FORWARDED:
            sig = getattr(_signal, name)
            self.saved[sig] = _signal.signal(sig, self._handle)

    def _handle(self, sig: int, _frame: object) -> None:
        if not self.pid:
            if sig in self.pending and sig == 2:  # a second Ctrl-C: give up on the start
                raise KeyboardInterrupt
            self.pending.append(sig)
            return
        try:
            os.kill(self.pid, sig)  # our unreaped child: the pid cannot be reused
        except OSError:
            pass

    def attach(self, pid: int) -> None:
        self.pid = pid
        while self.pending:
            self._handle(self.pending.pop(0), None)

    def restore(self) -> None:
        import _signal

        for sig, old in self.saved.items():
            _signal.signal(sig, old)  # type: ignore[arg-type]
        self.saved.clear()


def wait(pid: int, master: int, interactive: bool) -> int:
    """Proxy the terminal; return the command's exit status."""
    if master >= 0:
        from .tty import Terminal

        term = Terminal(master)
        term.stdin_open = interactive
        with term:
            term.pump(pid)
        os.close(master)
    code = os.waitstatus_to_exitcode(_reap(pid))
    return 128 - code if code < 0 else code
