"""``nsbox enter``: run a command in another process's namespaces, as nsenter(1) does,
for any process (nsbox's containers, Docker's, an ``unshare``).

Three processes, so that nothing of ours lingers inside the target::

    caller (host namespaces) --fork--> joiner --setns x N, clone(CLONE_PARENT)--> command
      waits for the command (its        non-dumpable; exits once the      execve; the PID
      child), returns its exit status   command is forked                 namespace applies here

- The namespace files, the target's root and working directory are opened
  before anything is joined: a path means something else once inside.
- The joiner is made non-dumpable before its first setns(2), so a process in
  the target cannot ptrace it or open its /proc/PID/exe (the host's Python) or
  /proc/PID/fd/* (CVE-2019-5736 class); every descriptor above 2 is
  close-on-exec before the command runs (CVE-2024-21626 class).
- setns(2) of a PID namespace only applies to children, hence the second fork.
- The user namespace is joined first when that works (an unprivileged caller
  needs its capabilities for the rest); what fails is retried once the others
  are joined (nsenter's two passes: root may drop privileges last).
- Entering the mount namespace chroots to the target's root and changes to its
  working directory; one that is not under that root (a leaked fd's, the
  CVE-2024-21626 trick) is refused for "/".
- Without the mount namespace the command is a host binary: it runs from a
  sealed memfd copy (sealed.py), so /proc/<pid>/exe never leads to the host file.
"""

from __future__ import annotations

import _signal
import errno as E
import os

from ..errors import ExecError, NsboxError
from ..kernel import ns, prctl
from ..kernel.errors import KernelError
from .target import ns_inode, ns_inodes

# nsenter's order (sys-utils/nsenter.c namespace_files), lsns names -> ns.KINDS names
ORDER = ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time")
KIND = {"user": "user", "cgroup": "cgroup", "ipc": "ipc", "uts": "uts", "net": "network", "pid": "pid",
        "mnt": "mount", "time": "time"}
O_PATH = 0o10000000
FORWARDED = ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT")
TTY_SIGNALS = ("SIGINT", "SIGQUIT")


class Plan:
    """What to join, opened up front."""

    def __init__(self, pid: int, argv: list[str]) -> None:
        self.pid = pid
        self.argv = argv
        self.fds: list[tuple[str, int]] = []   # (lsns type, fd) in ORDER
        self.root_fd = -1
        self.cwd_fd = -1
        self.workdir: str | None = None
        self.set_ids = True                    # become 0:0 in a joined user namespace

    def close(self) -> None:
        for _, fd in self.fds:
            os.close(fd)
        self.fds = []
        for fd in (self.root_fd, self.cwd_fd):
            if fd >= 0:
                os.close(fd)
        self.root_fd = self.cwd_fd = -1


def plan(pid: int, kinds: list[str], argv: list[str], *, host_tools: bool = False,
         workdir: str | None = None, preserve_credentials: bool = False, proc: str = "/proc") -> Plan:
    """Open every namespace in ``kinds`` that differs from ours (setns(2) into
    one's own user namespace fails; into the others it is a no-op)."""
    p = Plan(pid, argv)
    p.workdir = workdir
    p.set_ids = not preserve_credentials
    own = ns_inodes("self", proc)
    if "user" not in kinds and os.geteuid() != 0 and ns_inode(pid, "user", proc) not in (None, own.get("user")):
        # an unprivileged caller has capabilities over a namespace only from inside the
        # user namespace that owns it (user_namespaces(7)): join that too, as Podman does
        kinds = ["user", *kinds]
    try:
        for t in ORDER:
            if t not in kinds:
                continue
            ino = ns_inode(pid, t, proc)
            if ino is not None and ino == own.get(t):
                continue
            p.fds.append((t, ns.open_ns(f"{proc}/{pid}/ns/{t}")))
        if "mnt" in kinds and not host_tools:
            p.root_fd = _open_dir(f"{proc}/{pid}/root")
            p.cwd_fd = _open_dir(f"{proc}/{pid}/cwd")
    except BaseException:
        p.close()
        raise
    return p


def _open_dir(path: str) -> int:
    try:
        return os.open(path, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(e.errno or 0, f"open `{path}`", path) from None


def spawn(p: Plan) -> int:
    """Fork the joiner; return the command's pid once it runs (our child:
    the joiner clones it with CLONE_PARENT).  The caller waits for it (``wait``)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    joiner = os.fork()
    if joiner == 0:  # pragma: no cover - runs in the child
        os.close(r)
        _joiner(p, w)
    os.close(w)
    p.close()
    msgs = _read_all(r)
    _waitpid(joiner)
    cmd_pid = 0
    for line in msgs:
        kind, _, rest = line.partition(" ")
        if kind == "pid":
            cmd_pid = int(rest)
        elif kind == "err":
            _code, _, msg = rest.partition(" ")
            if cmd_pid:
                _waitpid(cmd_pid)
            raise NsboxError(f"enter: {msg}")
        elif kind == "exec":
            code, _, msg = rest.partition(" ")
            if cmd_pid:
                _waitpid(cmd_pid)
            raise ExecError(f"enter: {msg}", int(code))
    if not cmd_pid:
        raise NsboxError("enter: the joining process exited without starting the command")
    return cmd_pid


def _read_all(fd: int) -> list[str]:
    chunks = []
    try:
        while True:
            try:
                data = os.read(fd, 4096)
            except InterruptedError:
                continue
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace").splitlines()


def _waitpid(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue


def wait(pid: int) -> int:
    """The command's exit status (128+N if signal N killed it)."""
    code = os.waitstatus_to_exitcode(_waitpid(pid))
    return 128 - code if code < 0 else code


def forwarded_signals() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(signals a caller forwards to the command, signals it ignores): a
    terminal's ^C/^\\ reach a command in the foreground group directly, not twice."""
    if _terminal_foreground():
        return FORWARDED, TTY_SIGNALS
    return FORWARDED + TTY_SIGNALS, ()


def _terminal_foreground() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


# -- the children (never return, never raise) ---------------------------------

def _send(w: int, line: str) -> None:
    try:
        os.write(w, (line.replace("\n", " ") + "\n").encode())
    except OSError:
        pass


def _joiner(p: Plan, w: int) -> None:  # pragma: no cover - runs in the child
    try:
        from ..kernel.clone import fork_parent
        from . import sealed  # noqa: F401 - imported before the target's root hides our files

        prctl.set_dumpable(False)
        _cloexec_all()
        joined = join(p.fds, p.pid)
        if "user" in joined and p.set_ids:
            _become_root()
        if p.root_fd >= 0:
            _enter_root(p)
        elif p.workdir:
            _chdir(p.workdir)
        child = fork_parent()  # the caller's child: it waits for it by pid, no subreaper
        if child == 0:
            _command(p, w)
        _send(w, f"pid {child}")
        os._exit(0)
    except BaseException as e:  # noqa: BLE001 - errors go to the caller as data
        _send(w, f"err {getattr(e, 'errno', 0) or 0} {e}")
        os._exit(1)


def join(fds: list[tuple[str, int]], pid: int) -> list[str]:
    """setns(2) into each; what fails is retried after the rest (nsenter's two passes)."""
    joined: list[str] = []
    pending = list(fds)
    for attempt in (0, 1):
        left = []
        for t, fd in pending:
            try:
                ns.setns(fd, KIND[t], f"/proc/{pid}/ns/{t}")
                joined.append(t)
            except KernelError:
                if attempt:
                    raise
                left.append((t, fd))
        pending = left
        if not pending:
            break
    return joined


def _become_root() -> None:
    # nsenter -U: drop supplementary groups and become 0:0 inside, when mapped
    try:
        os.setgroups([])
    except OSError:
        pass  # setgroups is denied in a rootless namespace (user_namespaces(7))
    for fn in (os.setresgid, os.setresuid):
        try:
            fn(0, 0, 0)
        except OSError as e:
            if e.errno != E.EINVAL:  # EINVAL: 0 is not mapped; stay who we are
                raise KernelError(e.errno or 0, f"{fn.__name__} 0") from None


def _enter_root(p: Plan) -> None:
    try:
        os.fchdir(p.root_fd)
        os.chroot(".")
    except OSError as e:
        raise KernelError(e.errno or 0, f"chroot to the root of process {p.pid}") from None
    if p.workdir:
        _chdir(p.workdir)
        return
    try:
        os.fchdir(p.cwd_fd)
        os.getcwd()  # ENOENT when the directory is not reachable from the new root
    except OSError:
        os.chdir("/")


def _chdir(path: str) -> None:
    try:
        os.chdir(path)
    except OSError as e:
        raise KernelError(e.errno or 0, f"chdir `{path}`", path) from None


def _cloexec_all() -> None:
    from ..kernel.libc import SYS, syscall

    if syscall(SYS["close_range"], 3, 0xFFFFFFFF, 1 << 2) == 0:  # CLOSE_RANGE_CLOEXEC
        return
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            try:
                os.set_inheritable(int(name), False)
            except OSError:
                pass


def _command(p: Plan, w: int) -> None:  # pragma: no cover - runs in the child
    try:
        for name in ("SIGPIPE", "SIGXFSZ", "SIGINT", "SIGQUIT", "SIGTERM"):
            _signal.signal(getattr(_signal, name), _signal.SIG_DFL)  # boundary-ok: the command, before execve
        _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
        _cloexec_all()
        if p.root_fd < 0:  # our own mount namespace: a host binary (sealed.py says why)
            from .sealed import exec_sealed

            exec_sealed(p.argv)
        # not os.execvp: it imports `warnings`, which the target's root may not have
        from .sealed import resolve

        os.execv(resolve(p.argv[0], os.environ.get("PATH")), p.argv)
    except OSError as e:
        code = 127 if e.errno in (E.ENOENT, E.ENOTDIR) else 126
        what = "command not found" if code == 127 else (e.strerror or "cannot execute")
        hint = " (in the target's root; --host-tools runs the host's)" if code == 127 and p.root_fd >= 0 else ""
        _send(w, f"exec {code} exec `{p.argv[0]}`: {what}{hint}")
        os._exit(code)
    except BaseException as e:  # noqa: BLE001
        _send(w, f"err {getattr(e, 'errno', 0) or 0} {e}")
        os._exit(1)
