"""The child stages: intermediate (stage 1) and init (stage 2, PID 1).

Stage names and order follow runc's nsexec.c (STAGE_CHILD, STAGE_INIT) and
youki's container_{intermediate,init}_process.rs; the protocol is drawn in
sync.py.  Everything here runs in a forked child: it never returns, never raises
(errors go to the parent as data, then ``os._exit``), never runs atexit handlers.
"""

from __future__ import annotations

import _signal
import os

from ..kernel import ids, ns, prctl
from ..kernel.errors import KernelError
from ..trace import mark
from . import sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

    from .launch import Launch


def _die(sock: _socket.socket, err: BaseException) -> None:
    sync.send_error(sock, err)
    os._exit(1)


def intermediate(launch: Launch, sock: _socket.socket) -> None:
    """Stage 1: join/create namespaces, then fork init into them."""
    try:
        if launch.die_with_parent:
            prctl.set_pdeathsig(_signal.SIGKILL)
            if os.getppid() != launch.parent_pid:
                os._exit(1)  # the parent died before we could ask to die with it
        for kind, path in launch.join:
            fd = ns.open_ns(path)
            try:
                ns.setns(fd, kind, path)
            finally:
                os.close(fd)
        if launch.new_userns:
            try:
                ns.unshare(ns.KINDS["user"][0])
            except KernelError as e:
                from .userns import diagnose_unshare

                raise diagnose_unshare(e) from None
            sync.send(sock, {"type": "stage1"})
            sync.expect(sock, "stage1_ack", "set up the user namespace")
            become_root(launch)
        if launch.unshare_flags:
            ns.unshare(launch.unshare_flags)
        if launch.time_offsets:
            write_time_offsets(launch.time_offsets)
        mark("intermediate: namespaces")
        if launch.nondumpable:
            if launch.process.oom_score_adj is not None:
                from .security import write_oom_score_adj

                write_oom_score_adj(launch.process.oom_score_adj)  # init inherits it
                launch.oom_score_set = True
            prctl.set_dumpable(False)  # init inherits it (launch.py: nondumpable)
        from ..kernel.clone import fork_parent

        pid = fork_parent()  # init is our parent's child: it reaps init by pid, no subreaper
        if pid == 0:
            init(launch, sock)  # never returns
        sync.send(sock, {"type": "init_pid", "pid": pid})
        os._exit(0)
    except BaseException as e:  # noqa: BLE001 - the child reports everything
        _die(sock, e)


def become_root(launch: Launch) -> None:
    """In a fresh user namespace: become its root (if mapped) and drop host groups."""
    if any(i == 0 for i, _o, _n in launch.gid_ranges):
        ids.setresgid(0)
    if any(i == 0 for i, _o, _n in launch.uid_ranges):
        ids.setresuid(0)
    if launch.allow_setgroups:
        try:
            os.setgroups([])
        except OSError:
            pass


def write_time_offsets(data: str) -> None:
    # time_namespaces(7): offsets are written after unshare(CLONE_NEWTIME) and
    # before the first process enters the namespace (our fork of init).
    path = "/proc/self/timens_offsets"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise KernelError(e.errno or 0, f"write time offsets {data.strip()!r} to `{path}`", path) from None


def preload(launch: Launch) -> None:
    """Import now what init needs after pivot_root: the host's files (this
    package included) are out of reach once the old root is detached."""
    mods = ["nsbox.kernel.linux", "nsbox.kernel.fs", "nsbox.kernel.mount", "nsbox.kernel.ids",
            "nsbox.kernel.libc", "nsbox.runtime.rootfs", "nsbox.runtime.process",
            "nsbox.runtime.security", "nsbox.kernel.uts", "nsbox.kernel.netdev", "nsbox.procfs", "fcntl",
            "struct"]
    if launch.process.terminal:
        mods += ["termios"]
    if launch.process.rlimits:
        mods += ["resource"]
    if launch.init_wrapper:
        mods += ["nsbox.runtime.tini"]
    if launch.linux.sysctl:
        mods += ["nsbox.runtime.sysctl"]
    if launch.procattrs:
        mods += ["nsbox.runtime.procattrs", "ctypes", "struct"]
    if any(s.idmap_fd >= 0 for s in launch.plan.mounts):
        mods += ["nsbox.runtime.idmap"]
    if any(s.kind == "cgroup" for s in launch.plan.mounts):
        mods += ["nsbox.runtime.cgroupfs", "nsbox.cgroups.detect"]
    from . import security

    mods += security.preload(launch)
    for name in mods:
        __import__(name)


def _own_ns_fds() -> tuple[int, ...]:
    """Our network and user namespaces, for an unprivileged network helper that may
    not open a non-dumpable process's /proc/PID/ns/* (ptrace(2) access mode)."""
    return tuple(os.open(f"/proc/self/ns/{link}", os.O_RDONLY | os.O_CLOEXEC) for link in ("net", "user"))


class CgroupBarrier:
    """Wait until the parent has moved us into the container's cgroup, then
    create the cgroup namespace (once; before /sys/fs/cgroup is mounted)."""

    def __init__(self, launch: Launch, sock: _socket.socket) -> None:
        self.launch = launch
        self.sock = sock
        self.done = not (launch.defer_cgroupns or launch.cgroup_self_join)

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        for path in self.launch.cgroup_self_join:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")
            except OSError as e:
                raise KernelError(e.errno or 0, f"join cgroup `{os.path.dirname(path)}`", path) from None
            finally:
                os.close(fd)
        if self.launch.defer_cgroupns:
            if self.launch.cgroup_parent_join:
                sync.expect(self.sock, "cgroup", "join the container's cgroup")
            ns.unshare(ns.KINDS["cgroup"][0])


def _pivot_pause(sock: _socket.socket) -> None:
    """Let the parent run the OCI create hooks (runtime.md: after the environment is
    made, before pivot_root), then go on."""
    sync.send(sock, {"type": "before_pivot"})
    sync.expect(sock, "pivot", "wait for the create hooks")


def names_and_loopback(launch: Launch) -> None:
    """Hostname and domain name in a new UTS namespace; lo up in a new network one."""
    spec = launch.spec
    if spec.hostname is not None and "uts" in launch.new:
        from ..kernel.uts import sethostname

        sethostname(spec.hostname)
    if spec.domainname is not None and "uts" in launch.new:
        from ..kernel.uts import setdomainname

        setdomainname(spec.domainname)
    if "network" in launch.new:
        from ..kernel.netdev import link_up

        link_up("lo")


def init(launch: Launch, sock: _socket.socket) -> None:
    """Stage 2: PID 1 of the container.  Set up, report ready, wait for start, exec."""
    try:
        if launch.stdio is not None:
            for target, fd in enumerate(launch.stdio):
                if fd >= 0 and fd != target:
                    os.dup2(fd, target)  # the caller's pipes; the originals are close-on-exec
        if launch.direct:
            if launch.nondumpable:
                prctl.set_dumpable(False)  # launch.py: nondumpable
            # forked by the parent itself (no intermediate): a parent that dies
            # before this line closes the socket, and our next read fails
            if launch.die_with_parent:
                prctl.set_pdeathsig(_signal.SIGKILL)
            if launch.init_flags:
                ns.unshare(launch.init_flags)
        else:
            sync.expect(sock, "reparented", "wait for the parent")
            if launch.die_with_parent:
                prctl.set_pdeathsig(_signal.SIGKILL)
        mark("init: start")
        preload(launch)
        mark("init: preloaded")
        if launch.sysctl:  # in our namespaces, through our own /proc (sysctl.py)
            from .sysctl import apply as apply_sysctl

            apply_sysctl(launch.sysctl)
        from ..kernel.linux import LinuxKernel
        from . import process, rootfs

        k = LinuxKernel()
        plan = launch.plan
        barrier = CgroupBarrier(launch, sock)
        if plan.setup_rootfs:
            rootfs.setup(plan, k, launch.layout, before_cgroup=barrier,
                         before_pivot=(lambda: _pivot_pause(sock)) if launch.pause_before_pivot else None)
        barrier()
        mark("init: rootfs")
        names_and_loopback(launch)
        master = process.setup_console(launch) if launch.process.terminal else -1
        if master >= 0:
            sync.send(sock, {"type": "pty"}, (master,))
            os.close(master)
        if plan.setup_rootfs:
            rootfs.finish(plan, k)
        ns_fds = _own_ns_fds() if launch.send_ns_fds else ()
        process.prepare(launch)
        argv0 = process.find_executable(launch)
        mark("init: ready")
        sync.send(sock, {"type": "ready", "ns": ["network", "user"] if ns_fds else []}, ns_fds)
        for fd in ns_fds:
            os.close(fd)
        process.wait_for_start(launch)
        process.exec_container(launch, argv0)
    except BaseException as e:  # noqa: BLE001
        _die(sock, e)
