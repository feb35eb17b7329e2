"""create: set a container up and leave its process waiting before execve.

Runs in the parent (the nsbox process that will supervise the container, or
exits after create in the OCI flow).  Each resource is registered for undo as
it is made; on any failure they are released in reverse and the error says
what failed (and what could not be cleaned, youki-style).
"""

from __future__ import annotations

import _signal
import os

from ..errors import NsboxError
from ..kernel.errors import KernelError
from ..spec.model import ANN_STRICT_LIMITS
from ..trace import mark
from . import state as S
from . import sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

    from ..cgroups.manager import Cgroup
    from .launch import Launch


class Undo:
    """A stack of cleanups run in reverse; errors are collected, not raised."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, object]] = []

    def push(self, what: str, fn) -> None:
        self.actions.append((what, fn))

    def run(self) -> list[str]:
        errors = []
        while self.actions:
            what, fn = self.actions.pop()
            try:
                fn()  # type: ignore[operator]
            except Exception as e:  # noqa: BLE001
                errors.append(f"{what}: {e}")
        return errors

    def clear(self) -> None:
        self.actions.clear()


class Created:
    """A container whose init is waiting on the exec fifo."""

    def __init__(self, container: S.Container, launch: Launch) -> None:
        self.container = container
        self.launch = launch
        self.pid = 0
        self.sock: _socket.socket | None = None
        self.pty_master = -1
        self.cgroup: Cgroup | None = None
        self.cgroup_rest: list = []  # hierarchies the parent joins init to (the others it joins itself)
        self.ns_fds: dict[str, int] = {}  # init's namespaces it sent us ("network", "user")
        self.pidns_empty = False  # set when init, PID 1 of a namespace of its own, was reaped
        # work for the parent while init sets up its root (config.json, state): off the critical path
        self.while_init_works: list = []
        # called when init, its mounts made, waits before pivot_root (launch.pause_before_pivot)
        self.before_pivot = None
        self.undo = Undo()
        self.exit_reason: str | None = None  # "oom-killed" once it exited so
        self.oom_kills = 0
        self.warnings: list[str] = []  # limits this machine could not apply (also reported as they happen)

    def hold(self, kind: str, what: str, release, **record: object) -> None:
        """Register a resource before creating it: in state.json (for the garbage
        collector, should this process die) and on the undo stack (for us)."""
        self.container.add_resource(kind, **record)
        self.undo.push(what, release)


def fail(created: Created, err: BaseException) -> BaseException:
    """Undo everything; return the error to raise, with cleanup errors attached."""
    errors = created.undo.run()
    if errors and isinstance(err, (NsboxError, KernelError)):
        msg = f"{err}. error during cleanup: {'; '.join(errors)}"
        return NsboxError(msg)
    return err


def kill_init(created: Created) -> None:
    if created.pid > 0:
        try:
            os.kill(created.pid, _signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(created.pid, 0)
        except ChildProcessError:
            pass
        created.pid = 0


def setup_cgroup(created: Created, path: str | None) -> None:
    resources = created.launch.linux.resources or {}
    limits = {k: v for k, v in resources.items() if k != "devices"}  # devices: cgroups/devices.py
    strict = created.launch.spec.annotations.get(ANN_STRICT_LIMITS) == "true"
    if not path:
        if limits:  # rootless without a delegated cgroup: say so (or refuse)
            from ..cgroups.apply import unavailable
            from ..cgroups.delegate import find_delegated

            unavailable(limits, find_delegated(os.geteuid())[1] or "no cgroup for this container",
                        strict=strict, warnings=created.warnings)
        return
    from ..cgroups.manager import Cgroup

    cg = Cgroup(path, created.launch.layout)

    def release() -> None:
        # Once the init of a PID namespace has been reaped, the kernel has killed
        # and reaped everything else in it (zap_pid_ns_processes): nothing to kill.
        if not created.pidns_empty:
            cg.kill_all()
        cg.destroy()

    created.hold("cgroup", f"remove cgroup `{cg.path}`", release, path=cg.path)
    cg.create()
    cg.layout.container = cg.path  # what /sys/fs/cgroup shows if it must be a bind mount
    launch = created.launch
    if not launch.new_userns and not launch.rootless:
        # init runs as the host's root until it execs: it moves itself (fast path)
        launch.cgroup_self_join, created.cgroup_rest = cg.self_join_files()
    else:
        created.cgroup_rest = list(cg.layout.hierarchies)
    launch.cgroup_parent_join = bool(created.cgroup_rest)
    if resources.get("devices"):
        from ..cgroups.devices import apply

        apply(cg, resources["devices"])
    if limits:
        from ..cgroups import apply as cgapply

        cgapply.apply(cg, limits, rootless=created.launch.rootless, strict=strict, warnings=created.warnings)
    created.cgroup = cg


def create(created: Created, cgroup_path: str | None, before_start=None, persist_created: bool = True) -> Created:
    """Fork the stages and drive them until init reports ready.

    ``before_start(created)`` runs once init's namespaces exist and before it
    is released (network set-up, hooks); the container is in state "created".
    """
    launch = created.launch
    c = created.container
    try:
        if launch.direct and _threaded():
            # An application's threads (the API): init is forked by glibc's fork()
            # (os.fork), whose handlers take malloc's locks first; a raw clone3 here
            # could leave the child waiting forever on a lock another thread held.
            # The intermediate, single-threaded, then does the clone3 and the
            # setns dance (a time namespace's setns back refuses threaded callers).
            launch.use_intermediate()
        setup_cgroup(created, cgroup_path)
        # Import what init needs now, once: after fork every import would also
        # copy the pages its reference counts touch.
        from .init import preload

        preload(launch)
        parent_sock, child_sock = sync.socketpair()
        launch.parent_pid = os.getpid()
        if launch.direct:
            pid = _fork_direct(created, parent_sock, child_sock)
        else:
            pid = os.fork()
            if pid == 0:
                parent_sock.close()
                from .init import intermediate

                intermediate(launch, child_sock)
                os._exit(1)
        child_sock.close()
        created.sock = parent_sock
        created.undo.push("stop the container process", lambda: kill_init(created))
        if launch.direct:
            created.pid = pid
            _drive_init(created)
        else:
            _drive(created, pid)
        if before_start is not None:
            before_start(created)
        if persist_created:
            c.write(status=S.CREATED)
        else:
            c.state["status"] = S.CREATED  # the caller starts it at once and writes "running"
        return created
    except BaseException as e:
        raise fail(created, e) from None


def _fork_direct(created: Created, parent_sock, child_sock) -> int:
    """Fork init straight into its namespaces (rootful, nothing to join).

    clone3 creates it in the new namespaces and, with CLONE_INTO_CGROUP, in the
    container's cgroup2 cgroup (no migration afterwards).  A time namespace with
    offsets cannot be entered at clone time (its offsets are frozen once a process
    is in it, time_namespaces(7)): we unshare it for our children, write the
    offsets and setns back after the fork.  Where clone3 is refused, the same
    with unshare(CLONE_NEWPID) and os.fork, init unsharing the rest itself."""
    from ..kernel import ns
    from ..kernel.clone import clone3

    launch = created.launch
    time_flag = ns.KINDS["time"][0]
    saved: list[tuple[str, int]] = []
    cgroup_fd = _cgroup2_fd(created)
    # Only for a single-threaded caller (create() sends the others through the
    # intermediate).  Without offsets clone3 creates the time namespace itself.
    new_time = launch.parent_flags & time_flag
    try:
        if new_time and launch.time_offsets:
            _unshare_for_children(saved, "time")
            from .init import write_time_offsets

            write_time_offsets(launch.time_offsets)
            new_time = 0
        flags = (launch.parent_flags & ~time_flag) | launch.init_flags | new_time
        into_cgroup = cgroup_fd >= 0
        rest, parent_join = created.cgroup_rest, launch.cgroup_parent_join
        if into_cgroup:  # what the child will see: the cgroup2 hierarchy is done
            created.cgroup_rest = [h for h in rest if h.version != 2]
            launch.cgroup_parent_join = bool(created.cgroup_rest)
        pid = clone3(flags, cgroup_fd)
        if pid is None:
            created.cgroup_rest, launch.cgroup_parent_join = rest, parent_join
            if new_time:
                _unshare_for_children(saved, "time")
            if launch.parent_flags & ns.KINDS["pid"][0]:
                _unshare_for_children(saved, "pid")
            pid = os.fork()
        elif pid == 0:
            launch.init_flags = 0  # created in them already
        if pid == 0:
            parent_sock.close()
            from .init import init

            init(launch, child_sock)
            os._exit(1)
        mark("main: init forked")
        return pid
    finally:
        if cgroup_fd >= 0:
            os.close(cgroup_fd)
        for kind, fd in saved:
            try:
                ns.setns(fd, kind, f"/proc/self/ns/{kind}")
            finally:
                os.close(fd)


def _unshare_for_children(saved: list[tuple[str, int]], kind: str) -> None:
    """unshare a kind that applies to our children only (PID, time), keeping a
    handle on ours to go back to after the fork."""
    from ..kernel import ns

    saved.append((kind, ns.open_ns(f"/proc/self/ns/{ns.KINDS[kind][1]}")))
    ns.unshare(ns.KINDS[kind][0])


def _threaded() -> bool:
    """More than one thread in this process (an application embedding nsbox)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Threads:"):
                    return int(line.split()[1]) > 1
    except OSError:
        pass
    return True


def _cgroup2_fd(created: Created) -> int:
    """A directory fd of the container's cgroup2 cgroup, for CLONE_INTO_CGROUP."""
    cg = created.cgroup
    if cg is None:
        return -1
    u = cg.layout.unified()
    if u is None or u not in created.cgroup_rest:
        return -1
    try:
        return os.open(cg.dir(u), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return -1


def _start_time(pid: int) -> int | None:
    from ..procfs import start_time

    return start_time(pid)


def _drive(created: Created, intermediate_pid: int) -> None:
    launch = created.launch
    sock = created.sock
    assert sock is not None
    try:
        if launch.new_userns:
            sync.expect(sock, "stage1", "create the user namespace")
            from .userns import write_maps

            write_maps(intermediate_pid, launch.uid_ranges, launch.gid_ranges, launch.rootless,
                       launch.allow_setgroups)
            sync.send(sock, {"type": "stage1_ack"})
        msg, _ = sync.expect(sock, "init_pid", "create namespaces")
        created.pid = msg["pid"]
        mark("main: init forked")
    finally:
        _reap(intermediate_pid)
    sync.send(sock, {"type": "reparented"})
    _drive_init(created)


def _drive_init(created: Created) -> None:
    """Move init into its cgroup, then wait for it to report ready."""
    launch = created.launch
    sock = created.sock
    assert sock is not None
    cg = created.cgroup
    if cg is not None:
        if created.cgroup_rest:
            cg.add(created.pid, created.cgroup_rest)
        mark("main: cgroup joined")
    if launch.defer_cgroupns and launch.cgroup_parent_join:
        sync.send(sock, {"type": "cgroup"})
    c = created.container
    c.update(pid=created.pid, pidStart=_start_time(created.pid))
    try:
        if "network" in launch.new and not launch.rootless and launch.register_netns:
            from .netns import register  # /run/netns/<name> for `ip netns` (root only); writes the state

            register(created)
        for work in created.while_init_works:
            work()
    except BaseException:
        _raise_init_error(sock)  # init failed first (and so made ours fail): its error says why
        raise
    created.while_init_works.clear()
    c.flush()
    while True:
        msg, fds = sync.recv(sock)
        if msg is None:
            raise sync.ProtocolError("set up the container: its init exited without reporting")
        kind = msg.get("type")
        if kind == "error":
            sync.raise_error(msg)
        if kind == "before_pivot":
            if created.before_pivot is not None:
                created.before_pivot(created)
            sync.send(sock, {"type": "pivot"})
            continue
        if kind == "pty" and fds:
            created.pty_master = fds[0]
            for extra in fds[1:]:
                os.close(extra)
            continue
        if kind == "ready":
            mark("main: ready")
            kinds = msg.get("ns") or []
            for kind_, fd in zip(kinds, fds):
                created.ns_fds[kind_] = fd
                created.undo.push(f"close the {kind_} namespace fd", lambda fd=fd: os.close(fd))
            for fd in fds[len(kinds):]:
                os.close(fd)
            return
        raise sync.ProtocolError(f"set up the container: unexpected message {kind!r}")


def _raise_init_error(sock) -> None:
    """Raise the error init already reported, if any (it is sent before init exits)."""
    import select

    if select.select([sock], [], [], 0)[0]:
        msg, _ = sync.recv(sock)
        if msg is not None and msg.get("type") == "error":
            sync.raise_error(msg)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def start(created: Created, wait_exec: bool = True) -> None:
    """Release init from the exec fifo and confirm the execve (run mode).

    Opening the fifo for reading unblocks init's open for writing; then the
    socket's EOF (init's end is close-on-exec) says the execve happened, or an
    error message says why not.  ``wait_exec=False`` (a foreground run, which
    waits for the container anyway) leaves that to exec_error() after it exits.
    """
    c = created.container
    fd = os.open(c.fifo, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        import select

        p = select.poll()
        p.register(fd, select.POLLIN)
        sock = created.sock
        if sock is not None:
            p.register(sock.fileno(), select.POLLIN)
        while True:
            events = dict(p.poll())
            if fd in events and events[fd] & select.POLLIN:
                os.read(fd, 1)
                break
            if sock is not None and sock.fileno() in events:
                msg, _ = sync.recv(sock)
                if msg is None:
                    raise sync.ProtocolError("start: the container process exited before execve")
                if msg.get("type") == "error":
                    sync.raise_error(msg)
    finally:
        os.close(fd)
    if created.sock is not None and wait_exec:
        msg, _ = sync.recv(created.sock)
        created.sock.close()
        created.sock = None
        if msg is not None and msg.get("type") == "error":
            sync.raise_error(msg)
    c.write(status=S.RUNNING, started=S.now())


def exec_error(created: Created) -> None:
    """After init exited: raise the error it reported if its execve failed."""
    sock = created.sock
    if sock is None:
        return
    created.sock = None
    try:
        sock.setblocking(False)
        msg, _ = sync.recv(sock)
    except (BlockingIOError, OSError):
        msg = None
    finally:
        sock.close()
    if msg is not None and msg.get("type") == "error":
        sync.raise_error(msg)
