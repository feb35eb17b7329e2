"""Init's last steps: console, working directory, user, executable lookup, exec.

Order (runc standard_init_linux.go): console -> cwd -> security set-up that
needs root (rlimits, oom score) -> user switch -> capabilities -> wait on the
exec fifo -> no_new_privs, seccomp, Landlock (as close to execve as possible) -> execve.
"""

from __future__ import annotations

import _signal
import errno as E
import os

from ..errors import ExecError
from ..kernel.errors import KernelError
from . import security

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .launch import Launch

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIOCSCTTY = 0x540E
# Dispositions the Python runtime changed for itself; SIG_IGN survives execve.
RESET_SIGNALS = ("SIGPIPE", "SIGXFSZ", "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2",
                 "SIGWINCH", "SIGCHLD", "SIGTTIN", "SIGTTOU", "SIGTSTP")

_console_slave = -1


def setup_console(launch: Launch) -> int:
    """Open a pty in the container's own devpts; bind its slave on /dev/console.

    Returns the master (sent to the parent); the slave becomes stdio in prepare()."""
    global _console_slave
    from ..kernel import mount as M
    from ..kernel.fs import fd_path, open_in_root

    try:
        master, slave = os.openpty()
    except OSError as e:
        raise KernelError(e.errno or 0, "open a terminal with `/dev/ptmx` (a devpts mount on /dev/pts is "
                          "needed for process.terminal)", "/dev/ptmx") from None
    os.set_inheritable(master, False)
    name = os.ttyname(slave)
    cs = launch.process.console_size
    if cs is not None and cs.width and cs.height:
        set_winsize(master, cs.height, cs.width)
    fd = open_in_root(-100, "/dev/console", "file")
    try:
        M.mount(name, fd_path(fd), None, M.MS_BIND, label="/dev/console")
    finally:
        os.close(fd)
    _console_slave = slave
    return master


def set_winsize(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def take_terminal(slave: int, uid: int, gid: int) -> None:
    """Make the pty ``slave`` our controlling terminal and stdio, owned by the
    process's user (a session leader's job: call after setsid)."""
    import fcntl

    fcntl.ioctl(slave, TIOCSCTTY, 0)
    try:
        os.fchown(slave, uid, gid)
    except OSError:
        pass
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)


def prepare(launch: Launch) -> None:
    """Working directory, identity and privileges, before the fifo wait."""
    proc = launch.process
    user = proc.user
    if _console_slave >= 0:
        os.setsid()
        take_terminal(_console_slave, user.uid, user.gid)
    _chdir(proc.cwd)
    security.before_user_switch(launch)
    switch_user(launch)
    security.after_user_switch(launch)
    if launch.die_with_parent:
        from ..kernel import prctl

        prctl.set_pdeathsig(_signal.SIGKILL)  # a credential change clears it (prctl(2))
    os.umask(user.umask if user.umask is not None else 0o022)


def _chdir(cwd: str) -> None:
    try:
        os.chdir(cwd)
        return
    except FileNotFoundError:
        pass
    except OSError as e:
        raise KernelError(e.errno or 0, f"chdir to cwd `{cwd}`", cwd) from None
    try:
        os.makedirs(cwd, 0o755, exist_ok=True)
        os.chdir(cwd)
    except OSError as e:
        raise KernelError(e.errno or 0, f"chdir to cwd `{cwd}`", cwd) from None


def switch_user(launch: Launch) -> None:
    from ..kernel import ids

    user = launch.process.user
    if launch.allow_setgroups:
        groups = list(user.additional_gids)
        try:
            os.setgroups(groups)
        except OSError as e:
            if groups or e.errno != E.EPERM:
                raise KernelError(e.errno or 0, f"setgroups {groups}") from None
    elif user.additional_gids:
        raise KernelError(E.EPERM, f"setgroups {list(user.additional_gids)}: setgroups is denied in "
                          "this user namespace (rootless with a single gid mapping)")
    if os.getegid() != user.gid or os.getgid() != user.gid:
        ids.setresgid(user.gid)
    if os.geteuid() != user.uid or os.getuid() != user.uid:
        ids.setresuid(user.uid)


def env_path(launch: Launch) -> str:
    for kv in launch.process.env:
        if kv.startswith("PATH="):
            return kv[5:]
    return DEFAULT_PATH


def find_executable(launch: Launch) -> str:
    """Resolve args[0] like execvp would; 127 if missing, 126 if not executable."""
    args = launch.process.args
    if not args:
        raise ExecError("process.args: the container has no command to run", 127)
    name = args[0]
    if "/" in name:
        return refuse_self_exe(_check(name, name), name)
    for d in env_path(launch).split(":"):
        cand = f"{d or '.'}/{name}"
        if os.path.isfile(cand):
            return refuse_self_exe(_check(cand, name), name)
    raise ExecError(f"exec `{name}`: executable file not found in $PATH", 127)


def refuse_self_exe(path: str, shown: str) -> str:
    """Refuse to execute our own interpreter inside the container (CVE-2019-5736).

    Until execve we run the host's Python binary; ``/proc/self/exe`` (or the
    #! line of a script naming it, the CVE's vector) would start it again as
    the container's process, which could then open it for writing.  The file
    and up to 4 nested #! interpreters (binfmt_script's limit) are compared by
    device and inode with /proc/self/exe, resolved as execve would: inside.
    The same binary reached through a read-only mount (the default root's
    /usr) is fine: its process's /proc/self/exe is that read-only mount (ST_RDONLY)."""
    try:
        me = os.stat("/proc/self/exe")
    except OSError:
        return path  # no procfs: /proc/self/exe cannot be executed either
    cur = path
    for _depth in range(5):
        try:
            fd = os.open(cur, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return path  # execve reports it
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == (me.st_dev, me.st_ino) and not os.fstatvfs(fd).f_flag & 1:
                raise ExecError(f"exec `{shown}`: refused: it would run nsbox's own interpreter "
                                "inside the container (CVE-2019-5736)", 126)
            head = os.read(fd, 256) if (st.st_mode & 0o170000) == 0o100000 else b""
        finally:
            os.close(fd)
        if not head.startswith(b"#!"):
            return path
        words = head[2:].split(b"\n", 1)[0].split()
        if not words:
            return path
        cur = os.fsdecode(words[0])
    return path


def _check(path: str, shown: str) -> str:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ExecError(f"exec `{shown}`: no such file or directory", 127) from None
    except OSError as e:
        raise ExecError(f"exec `{shown}`: {e.strerror}", 126) from None
    if (st.st_mode & 0o170000) == 0o040000:
        raise ExecError(f"exec `{shown}`: is a directory", 126)
    if not os.access(path, os.X_OK):
        raise ExecError(f"exec `{shown}`: permission denied", 126)
    return path


def wait_for_start(launch: Launch) -> None:
    """Block until `start` opens the exec fifo (runc: "wait on exec fifo")."""
    fd = os.open(f"/proc/self/fd/{launch.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)
    os.close(launch.fifo_fd)


def _reset_signals() -> None:
    for name in RESET_SIGNALS:
        sig = getattr(_signal, name, None)
        if sig is not None:
            _signal.signal(sig, _signal.SIG_DFL)  # boundary-ok: the container process before execve
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def _close_fds() -> None:
    # Nothing of ours may reach the container (youki GHSA-xr7r-f8xq-vfvv):
    # every fd above 2 is marked close-on-exec (close_range(2) CLOSE_RANGE_CLOEXEC).
    from ..kernel.libc import SYS, syscall

    if syscall(SYS["close_range"], 3, 0xFFFFFFFF, 1 << 2) == 0:
        return
    for fd in os.listdir("/proc/self/fd"):
        n = int(fd)
        if n > 2:
            try:
                os.set_inheritable(n, False)
            except OSError:
                pass


def exec_container(launch: Launch, path: str) -> None:
    proc = launch.process
    env = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in proc.env)
    _close_fds()
    if launch.init_wrapper:
        from .tini import run_init

        security.before_exec(launch)
        run_init(path, list(proc.args), env, dumpable=launch.rootless)  # never returns
    _reset_signals()
    security.before_exec(launch)
    try:
        os.execve(path, list(proc.args), env)
    except OSError as e:
        code = 127 if e.errno == E.ENOENT else 126
        raise ExecError(f"exec `{proc.args[0]}`: {e.strerror}", code) from None
