"""``nsbox run -d``: a detached container and the small supervisor that outlives us.

Supervision model (conmon's, for Podman): one supervisor process per detached
container, and nothing else running for it.

    nsbox run -d (CLI)      prepare: state dir (owner.lock held), rootfs, config.json
      fork -> A             setsid; fork -> S; exit   (S: no terminal, not our child)
      <- {"supervisor", pid}
                            S: stdio = /dev/null or our stdin, container.log
                            S: create + start (init is S's child: CLONE_PARENT)
      <- {"started"}  or  <- {"error", ...} after S removed everything
    the id (CLI: printed)   S: execve a fresh ``python -I -S supervise.py``

S holds owner.lock (inherited from the CLI: the same open file, so the lock is
never free while the container lives), is the parent of the container's init
(which dies with it: parent death signal), records the exit status in
state.json when init exits and, for ``--rm``, removes the container.  Before
waiting it replaces its image with a minimal interpreter (runtime/supervise.py):
the modules that built the container are not kept in memory for its lifetime.
If S is SIGKILLed, init dies too and the next nsbox command collects what is
left (runtime/gc.py), recording exit status 137.

Output: the container's stdout and stderr go to ``container.log`` in its
directory (``nsbox logs``); its stdin is /dev/null unless ``-i`` (then ours).
With ``-t`` the supervisor copies the terminal's output to the log.
"""

from __future__ import annotations

import os
import sys

from ..errors import NsboxError
from . import state as S
from . import sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

    from ..specgen.options import RunOptions
    from .create import Created

SUPERVISE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "supervise.py")
# where the nsbox package is (an editable install finds it through a hook that -S skips)
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(SUPERVISE)))


def run_detached(opts: RunOptions, store: S.Store | None = None) -> str:
    """Start the container in the background; its id once it runs."""
    from .gc import collect
    from .run import prepare

    store = store or S.Store()
    store.ensure()
    collect(store)
    _ensure_stdio()
    created = prepare(opts, store, detached=True, auto_remove=opts.rm)
    c = created.container
    supervisor = 0
    ours = None
    try:
        log_fd = os.open(c.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW,
                         0o600)
        stdin_fd = os.dup(0) if opts.interactive else os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        ours, theirs = sync.socketpair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            _first_child(created, theirs, stdin_fd, log_fd)  # never returns
        theirs.close()
        os.close(stdin_fd)
        os.close(log_fd)
        _reap(pid)
        while True:
            msg, _fds = sync.recv(ours)
            if msg is None:
                raise NsboxError("start the container: its supervisor exited before reporting")
            if msg.get("type") == "supervisor":
                supervisor = msg["pid"]
            elif msg.get("type") == "error":
                sync.raise_error(msg)
            elif msg.get("type") == "started":
                break
    except BaseException:
        _discard(c, supervisor)
        raise
    finally:
        # Our copies of the socket, the exec fifo and owner.lock (the supervisor's is
        # the same open file: closing ours does not release it): a caller that lives
        # on (the API) must not keep them.
        if ours is not None:
            ours.close()
        os.close(created.launch.fifo_fd)
        c.release_ownership()
    return c.id


def _ensure_stdio() -> None:
    """Fds 0-2 open, so that no descriptor we create lands on them."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open("/dev/null", os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _discard(c: S.Container, supervisor: int) -> None:
    """The start failed or was interrupted: leave nothing.  We still hold
    owner.lock, so nobody else touches the container meanwhile."""
    import _signal

    from .. import procfs
    from . import resources

    if supervisor:
        try:
            os.kill(supervisor, _signal.SIGKILL)  # its init follows (parent death signal)
        except OSError:
            pass
    if not os.path.isdir(c.path):
        return  # the supervisor cleaned up before reporting
    try:
        st = c.read()
        if procfs.alive(st.get("pid", 0), st.get("pidStart")):
            os.kill(st["pid"], _signal.SIGKILL)
        resources.release_all(st.get("resources", []))
        c.remove_dir()
    except Exception:  # noqa: BLE001 - GC retries; the start error is what the user needs
        pass


def _first_child(created: Created, sock: _socket.socket, stdin_fd: int, log_fd: int) -> None:
    """A: leave the caller's session, fork the supervisor, exit (the double fork:
    the supervisor is not a session leader, so it can never get a terminal)."""
    try:
        os.setsid()
        pid = os.fork()
        if pid == 0:
            _supervisor(created, sock, stdin_fd, log_fd)  # never returns
        sync.send(sock, {"type": "supervisor", "pid": pid})
    finally:
        os._exit(0)


def _supervisor(created: Created, sock: _socket.socket, stdin_fd: int, log_fd: int) -> None:
    """S: set the container up, report, then become the lean supervisor."""
    from .create import start
    from .run import abandon, create_container

    try:
        os.chdir("/")  # never pin the caller's working directory
        # The container inherits these: stdin, and the log as stdout and stderr.
        os.dup2(stdin_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(stdin_fd)
        created.container.write(owner=os.getpid())
        create_container(created, persist_created=False)  # started at once
        start(created)
    except BaseException as e:  # noqa: BLE001 - reported to the CLI, never printed here
        try:
            abandon(created)
        finally:
            sync.send_error(sock, e)
            os._exit(1)
    try:
        sync.send(sock, {"type": "started", "pid": created.pid})
    except OSError:
        pass  # the CLI was killed meanwhile: the container runs on regardless
    sock.close()
    _become_lean(created, log_fd)


def _become_lean(created: Created, log_fd: int) -> None:
    """execve a minimal interpreter running supervise.py: the same pid, so we stay
    init's parent and keep owner.lock (an inherited descriptor)."""
    c = created.container
    master = created.pty_master
    keep = [c.owner_fd] + ([master, log_fd] if master >= 0 else [])
    args = [c.id, c.path, str(created.pid), str(master), str(log_fd if master >= 0 else -1), str(c.owner_fd),
            os.pathsep.join([_PACKAGE_PARENT] + [p for p in sys.path if p])]
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)  # the container has its own copies; ours must not hold the log
    os.close(null)
    for fd in keep:
        os.set_inheritable(fd, True)
    if sys.executable:
        try:
            os.execv(sys.executable, [sys.executable, "-I", "-S", SUPERVISE, *args])
        except OSError:
            pass
    from .supervise import main

    main(args)  # no interpreter to exec: supervise in this (larger) process
    os._exit(0)
