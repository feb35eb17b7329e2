"""One sandbox: cloned by the pool's server for a slot, set up ahead of its run,
released with the run's command, stdio and environment.

The engine's init order (runtime/init.py), with the run's request where
``nsbox run`` waits on the exec fifo:

    server (zygote)                        sandbox (PID 1 of its namespaces)
    ---------------                        ---------------------------------
    clone3(NEWPID|NEWNS|NEWIPC|NEWUTS|     every fd but its socket closed;
      NEWNET, into the slot's cgroup2) -->   non-dumpable; pdeathsig(SIGKILL)
                                           fresh tmpfs on the sandbox directory,
                                             the root's writable layer in it
                                           rootfs steps (v1 cgroups joined, then
                                             a cgroup namespace, at the first
                                             cgroup mount), pivot_root, hostname,
                                             lo up, masks, cwd, rlimits, user, caps
                                   <-----  {"type": "ready", "cpu": seconds so far}
    (a run arrives: limits written)
    {"type": "go", args, env, cwd,
      stdio} + the caller's pipes ------>  stdio, chdir, exec lookup,
                                           no_new_privs, Landlock, seccomp, execve
    EOF on the socket = exec'd             (its end is close-on-exec)
    {"type": "error", ...} = it failed; the server reaps the sandbox either way

Nothing of the server reaches the command: its socket is close-on-exec, every
other fd was closed at birth, and it runs in a PID namespace of its own.
"""

from __future__ import annotations

import _signal
import os

from ..kernel import prctl
from ..runtime import sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

    from .template import Template


def _keep_only(fd: int) -> None:
    """Close every fd but ``fd`` (and 0-2): the other runs' pipes and sockets the
    server held when it forked must not stay open here (their EOF is a run's end)."""
    from ..kernel.libc import SYS, syscall

    if fd > 3:
        syscall(SYS["close_range"], 3, fd - 1, 0)
    syscall(SYS["close_range"], fd + 1, 0xFFFFFFFF, 0)


def fresh_layer(t: Template) -> None:
    """A new tmpfs on the sandbox directory, holding the root's writable layer
    (overlay upper, or the embedded root's directory and /etc upper) and the
    generated /etc files: nothing a run writes outlives it."""
    from ..kernel import mount as M

    M.mount("tmpfs", t.dir, "tmpfs", M.MS_NOSUID | M.MS_NODEV, "mode=0700", label=f"{t.dir} (sandbox)")
    for kind, rel, mode, arg in t.layer:  # template.recipe: laid out once by the engine's own code
        path = f"{t.dir}/{rel}"
        if kind == "dir":
            os.mkdir(path, mode)
            os.chmod(path, mode)  # (umask)
        elif kind == "symlink":
            os.symlink(arg, path)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
            try:
                os.write(fd, arg)  # type: ignore[arg-type]
            finally:
                os.close(fd)


def setup(t: Template, sock: _socket.socket) -> None:
    """Everything up to the request, in the engine's order."""
    from ..kernel.linux import LinuxKernel
    from ..runtime import process, rootfs
    from ..runtime.init import CgroupBarrier, names_and_loopback

    launch = t.launch
    if launch.nondumpable:
        prctl.set_dumpable(False)
    # (getppid() is 0 in a new PID namespace: a server that died before this
    # line closed our socket's peer, and "ready" or the wait for "go" fails)
    prctl.set_pdeathsig(_signal.SIGKILL)  # boundary-ok: the sandbox, nsbox's own process
    fresh_layer(t)
    k = LinuxKernel()
    barrier = CgroupBarrier(launch, sock)
    rootfs.setup(launch.plan, k, launch.layout, before_cgroup=barrier)
    barrier()
    names_and_loopback(launch)
    rootfs.finish(launch.plan, k)
    process.prepare(launch)
    if t.early_seccomp:
        # Docker's default profile allows everything left before execve (recvmsg,
        # dup3, openat, chdir, stat, close_range, rt_sigaction, execve): loaded
        # now, its ~0.4 ms of checking and JIT is off the run's path.
        from ..runtime import privileges, security

        security.before_exec(launch)  # no_new_privs, then seccomp (no Landlock: early_seccomp)
        privileges.prepared(launch).seccomp = None  # (this process's copy: done)


def stdio(modes: list[str], fds: list[int]) -> None:
    """The run's stdin, stdout, stderr: "fd" (the next received fd), "null"
    (/dev/null inside), "out" (stderr to stdout)."""
    it = iter(fds)
    for target, mode in enumerate(modes):
        if mode == "fd":
            src = next(it)
        elif mode == "out":
            src = 1
        else:
            src = os.open("/dev/null", os.O_RDWR)
        if src != target:
            os.dup2(src, target)
            if mode != "out":
                os.close(src)


def run(t: Template, sock: _socket.socket) -> None:
    """The sandbox's whole life; never returns."""
    try:
        _keep_only(sock.fileno())
        setup(t, sock)
        import resource

        ru = resource.getrusage(resource.RUSAGE_SELF)
        # Our mount namespace, for the server to hold: its teardown (an RCU grace
        # period per unmounted tree) then happens when the server lets it go,
        # after the run's result is out, not between our exit and the result.
        mnt = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        sync.send(sock, {"type": "ready", "cpu": ru.ru_utime + ru.ru_stime}, (mnt,))
        os.close(mnt)
        msg, fds = sync.expect(sock, "go", "wait for a run")
        stdio(msg["stdio"], fds)
        from ..runtime import process

        launch = t.launch
        cwd = msg.get("cwd")
        launch.process = launch.process.replace(args=tuple(msg["args"]), env=tuple(msg["env"]),
                                                cwd=cwd or launch.process.cwd)
        if cwd:
            process._chdir(cwd)
        process.exec_container(launch, process.find_executable(launch))
    except BaseException as e:  # noqa: BLE001 - the sandbox reports everything
        sync.send_error(sock, e)
    os._exit(1)
