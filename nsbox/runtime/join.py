"""The joining side of ``nsbox exec``: a child (J) that enters the container's
cgroups and namespaces, and the process it clones (P2) that becomes the command.

    nsbox exec (host)                  J (forked)                       P2
    -----------------                  ----------                       --
    pidfd of init (start time
    checked), fork -------------->     non-dumpable; builds its request
                                       (config.json, security, imports)
                                       v1 cgroups: tasks <- 0 (itself)
                                       close every fd > 2 but the socket,
                                       the pidfd, the cgroup2 directory
                                       setns(pidfd, CLONE_NEW*) (user first)
                                       clone3(CLONE_PARENT|CLONE_INTO_CGROUP) ->
                              <-----   {"pid": P2}; exit                close the cgroup2 fd
    waitpid(J); P2 is our child                                         setns(cgroup); close pidfd
                                                                        user lookup, chdir (inside)
                                                                        setsid; pty (-t) -> {"pty"}+fd
                                                                        rlimits, user, caps,
                                                                        non-dumpable, nnp, seccomp
    EOF on the socket = exec done; {"error", ...} = why not             execve

Where clone3 is refused (or the cgroups need it) J says {"migrate"}:
we write its pid to cgroup.procs, answer {"cgroup"}, and J clones P2 with
CLONE_PARENT through clone(2) (P2 is still our child: no subreaper).
The cgroup namespace is joined by P2: CLONE_INTO_CGROUP requires the caller's
current cgroup to be visible in its cgroup namespace (joincg.py has the why of
the cgroup paths).

setns(CLONE_NEWPID) and setns(CLONE_NEWTIME) place the caller's *children*
in the namespace, hence the second fork (runc's nsexec does the same).

Against the CVE-2019-5736 and CVE-2024-21626 classes:
- J is non-dumpable before it joins anything: its /proc/PID entries belong to
  the host's root, and a process inside cannot ptrace it or open its
  ``/proc/PID/exe`` (the host's interpreter) without CAP_SYS_PTRACE over the
  host; P2 sets it again after the user switch (a credential change resets it
  to fs.suid_dumpable).  The interpreter is also busy (ETXTBSY) while any nsbox
  process runs it, and process.refuse_self_exe refuses to execute it.
- Before the join every descriptor above 2 except the sync socket and the
  pidfd is closed (close_range(2)), and the pidfd right after: no host
  directory can be reached through /proc/self/fd.  At execve every fd > 2 is
  close-on-exec.
- setns(CLONE_NEWNS) resets root and cwd to the container's root; the working
  directory is resolved from there, and getcwd(3) must succeed (it fails with
  ENOENT for a directory outside the root).
"""

from __future__ import annotations

import errno as E
import os

from ..errors import ConfigError
from ..kernel import ns, prctl
from ..kernel.clone import CLONE_PARENT, clone3
from ..kernel.errors import KernelError
from ..trace import mark
from . import process, security, sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from collections.abc import Callable

    from .joincg import CgroupPlan
    from .launch import Launch



class ExecRequest:
    """What the joining children need, computed by the parent before fork."""

    def __init__(self, launch: Launch, pid: int, flags: int, name: str) -> None:
        self.launch = launch
        self.pid = pid          # the container's init, on the host
        self.flags = flags      # CLONE_NEW* of the namespaces init does not share with us
        self.name = name
        self.user: str | None = None     # -u as given (resolved inside)
        self.home_from_user = False      # set HOME from the container's passwd
        self.interactive = False         # stdin passed; else /dev/null
        self.detach = False              # stdout and stderr to /dev/null too
        self.winsize: tuple[int, int] | None = None


def first(make_request: Callable[[], ExecRequest], sock: _socket.socket, pidfd: int, plan: CgroupPlan) -> None:
    """J: build the request, enter the cgroups and namespaces, clone P2.  Never returns.

    P2 is cloned with CLONE_PARENT (our parent reaps it: it needs no subreaper)
    and, where the container has a cgroup2 cgroup, CLONE_INTO_CGROUP (born in it:
    no migration, no RCU grace period); the v1 hierarchies we join ourselves
    through ``tasks`` (no threadgroup lock either).  Where the kernel refuses
    clone3, or the layout needs it, the parent moves us (cgroup.procs) and we fork."""
    try:
        prctl.set_dumpable(False)
        if plan.needs_parent:
            sync.send(sock, {"type": "migrate", "into": False})  # now: it overlaps our work
        req = make_request()
        mark("exec-join: request built")
        from .joincg import write_file

        for tasks in plan.self_join:
            write_file(tasks, "0")
        cgfd = -1
        if plan.into and not plan.needs_parent:
            cgfd = os.open(plan.into, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        stdio(req)
        close_fds_except(sock.fileno(), pidfd, cgfd)
        # the cgroup namespace last, by P2 once it is in the cgroup: CLONE_INTO_CGROUP
        # needs our current cgroup to be visible in our cgroup namespace
        late = req.flags & ns.KINDS["cgroup"][0] if cgfd >= 0 else 0
        join(req, pidfd, req.flags & ~late)
        mark("exec-join: joined")
        if plan.needs_parent:
            sync.expect(sock, "cgroup", "join the container's cgroup")
        pid = clone3(CLONE_PARENT, cgfd)
        if pid is None:  # refused (an old kernel, a policy): the classic way
            if cgfd >= 0:
                os.close(cgfd)
                cgfd = -1
                sync.send(sock, {"type": "migrate", "into": True})
                sync.expect(sock, "cgroup", "join the container's cgroup")
            if late:
                join(req, pidfd, late)
                late = 0
            from ..kernel.clone import fork_parent

            pid = fork_parent()
        if pid == 0:
            second(req, sock, pidfd, late, cgfd)
        sync.send(sock, {"type": "pid", "pid": pid})
        os._exit(0)
    except BaseException as e:  # noqa: BLE001 - the child reports everything
        sync.send_error(sock, e)
        drain(sock)
        os._exit(1)


def stdio(req: ExecRequest) -> None:
    """stdin /dev/null unless -i; with -d stdout and stderr too."""
    if req.interactive and not req.detach:
        return
    null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    for fd in (0,) if not req.detach else (0, 1, 2):
        if fd or not req.interactive:
            os.dup2(null, fd)
    os.close(null)


def drain(sock: _socket.socket) -> None:
    """Read what the parent sent and we did not wait for: closing a unix socket
    with unread data makes the parent's next read fail with ECONNRESET instead
    of returning our error."""
    try:
        sock.setblocking(False)
        while sock.recv(65536):
            pass
    except OSError:
        pass


def close_fds_except(*keep: int) -> None:
    """Close every descriptor above 2 but ``keep`` (close_range(2), Linux >= 5.9)."""
    from ..kernel.libc import SYS, syscall

    lo = 3
    for fd in sorted(set(keep)) + [0x7FFFFFFF + 1]:
        if fd > lo and syscall(SYS["close_range"], lo, fd - 1, 0) != 0:
            for n in [int(x) for x in os.listdir("/proc/self/fd")]:
                if lo <= n < fd:
                    try:
                        os.close(n)
                    except OSError:
                        pass
        lo = max(lo, fd + 1)


def join(req: ExecRequest, pidfd: int, flags: int) -> None:
    if not flags:
        return
    try:
        ns.setns_flags(pidfd, flags, f"container `{req.name}` (pid {req.pid})")
        return
    except KernelError as e:
        if e.errno not in (E.EINVAL, E.EBADF):
            raise
    # Linux < 5.8 takes no pidfd: one namespace file at a time, user first, mount last.
    opened = []
    try:
        for kind in ns.JOIN_ORDER:
            flag, link = ns.KINDS[kind]
            if flags & flag:
                path = f"/proc/{req.pid}/ns/{link}"
                opened.append((kind, path, ns.open_ns(path)))
        for kind, path, fd in opened:
            ns.setns(fd, kind, path)
    finally:
        for _k, _p, fd in opened:
            os.close(fd)


def read_db(path: str) -> list[list[str]]:
    """Lines of the container's /etc/passwd or /etc/group; a missing file, or one
    that is not a regular file (a FIFO would block us), reads as empty."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        if (os.fstat(fd).st_mode & 0o170000) != 0o100000:
            return []
        data = os.read(fd, 1 << 20)
    finally:
        os.close(fd)
    return [line.split(":") for line in data.decode(errors="replace").splitlines()
            if line and not line.startswith("#")]


def resolve_user(req: ExecRequest) -> None:
    """-u UID[:GID] or NAME[:GROUP], looked up in the container's files (we are inside)."""
    from ..spec.model import User

    spec = req.user or ""
    u, _, g = spec.partition(":")
    passwd = read_db("/etc/passwd")
    row = next((r for r in passwd if len(r) > 3 and (r[2] == u if u.isdigit() else r[0] == u)), None)
    if u.isdigit():
        uid = int(u)
    elif row is not None and row[2].isdigit():
        uid = int(row[2])
    else:
        raise ConfigError(f"-u `{spec}`: no user `{u}` in the container's /etc/passwd")
    if g:
        grow = next((r for r in read_db("/etc/group") if len(r) > 2 and (r[2] == g if g.isdigit() else r[0] == g)),
                    None)
        if g.isdigit():
            gid = int(g)
        elif grow is not None and grow[2].isdigit():
            gid = int(grow[2])
        else:
            raise ConfigError(f"-u `{spec}`: no group `{g}` in the container's /etc/group")
    else:
        gid = int(row[3]) if row is not None and row[3].isdigit() else (uid if uid else 0)
    launch = req.launch
    groups: tuple[int, ...] = ()
    if launch.allow_setgroups and row is not None:
        # initgroups(3), as run -u: the primary group, then those /etc/group lists the user in,
        # the ones mapped in the user namespace we are in
        mapped = _mapped_gids()
        groups = tuple(dict.fromkeys([gid] + [
            int(r[2]) for r in read_db("/etc/group")
            if len(r) > 3 and r[2].isdigit() and row[0] in r[3].split(",")]))
        groups = tuple(x for x in groups if mapped(x))
    launch.process = launch.process.replace(user=User(uid=uid, gid=gid, additional_gids=groups))
    if req.home_from_user:
        home = row[5] if row is not None and len(row) > 5 and row[5] else ("/root" if uid == 0 else "/")
        env = [kv for kv in launch.process.env if not kv.startswith("HOME=")] + [f"HOME={home}"]
        launch.process = launch.process.replace(env=tuple(env))


def _mapped_gids():
    """gid -> mapped in our user namespace (from /proc/self/gid_map)."""
    try:
        with open("/proc/self/gid_map") as f:
            rs = [tuple(int(x) for x in line.split()) for line in f if line.strip()]
    except OSError:
        return lambda gid: True
    return lambda gid: any(i <= gid < i + n for i, _o, n in rs)


def chdir_inside(cwd: str) -> None:
    try:
        os.chdir(cwd)
    except OSError as e:
        raise KernelError(e.errno or 0, f"chdir to working directory `{cwd}` in the container", cwd) from None
    try:
        os.getcwd()
    except OSError:
        raise KernelError(E.EPERM, f"working directory `{cwd}`: outside the container's root (refused)",
                          cwd) from None


def second(req: ExecRequest, sock: _socket.socket, pidfd: int, late: int, cgfd: int) -> None:
    """P2: in the container's cgroups; finish joining, resolve inside, become the
    command.  Never returns."""
    launch = req.launch
    try:
        mark("exec-cmd: cloned")
        if cgfd >= 0:
            os.close(cgfd)  # a directory of the host's: first thing, never inside
        join(req, pidfd, late)
        os.close(pidfd)
        if req.user is not None:
            resolve_user(req)
        chdir_inside(launch.process.cwd)
        mark("exec-cmd: inside")
        os.setsid()  # its own session: the caller's terminal signals reach it once, forwarded
        if launch.process.terminal:
            terminal(req, sock)
        security.before_user_switch(launch)
        try:
            process.switch_user(launch)
        except KernelError as e:
            if e.errno != E.EINVAL:
                raise
            user = launch.process.user
            raise ConfigError(f"user {user.uid}:{user.gid}: not mapped in the container's user namespace") from None
        security.after_user_switch(launch)
        prctl.set_dumpable(False)
        user = launch.process.user
        os.umask(user.umask if user.umask is not None else 0o022)
        path = process.find_executable(launch)
        mark("exec-cmd: execve")
        process.exec_container(launch, path)
    except BaseException as e:  # noqa: BLE001
        sync.send_error(sock, e)
    os._exit(1)


def terminal(req: ExecRequest, sock: _socket.socket) -> None:
    """A pty from the container's own devpts (we are in its mount namespace); the
    master goes to the caller, the slave becomes our controlling terminal."""

    try:
        master, slave = os.openpty()
    except OSError as e:
        raise KernelError(e.errno or 0, "open a terminal with `/dev/ptmx` in the container", "/dev/ptmx") from None
    os.set_inheritable(master, False)
    if req.winsize:
        process.set_winsize(master, *req.winsize)
    sync.send(sock, {"type": "pty"}, (master,))
    os.close(master)
    user = req.launch.process.user
    process.take_terminal(slave, user.uid, user.gid)
