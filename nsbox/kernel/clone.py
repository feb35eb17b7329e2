"""clone3(2) from Python: a fork straight into new namespaces and a cgroup.

os.fork() cannot pass clone flags.  clone3 with CLONE_INTO_CGROUP starts the
child inside the container's cgroup (no migration afterwards, so no wait for an
RCU grace period: ~10 ms here) and with the CLONE_NEW* flags in the new
namespaces (no unshare dance).  The interpreter is told about the fork exactly
as os.fork tells it (PyOS_BeforeFork, PyOS_AfterFork_Child/Parent); the call is
made without releasing the GIL.  Only for single-threaded callers, as os.fork.
Returns None when the kernel refuses (old kernel, a seccomp policy, a cgroup we
may not write): the caller falls back to os.fork.
"""

from __future__ import annotations

import ctypes
import errno as E

from .errors import KernelError
from .libc import SYS

CLONE_INTO_CGROUP = 0x200000000
CLONE_PARENT = 0x00008000  # the child is our parent's (it needs no subreaper to reap it)
SIGCHLD = 17

_py = ctypes.pythonapi
_libc_nogil = ctypes.PyDLL(None, use_errno=True)
_syscall = _libc_nogil.syscall
_syscall.restype = ctypes.c_long


class _CloneArgs(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls",
        "set_tid", "set_tid_size", "cgroup")]


def clone3(flags: int, cgroup_fd: int = -1) -> int | None:
    """Fork with ``flags`` (CLONE_NEW*), into ``cgroup_fd`` (a cgroup2 directory) if
    given.  0 in the child, the child's pid in the parent, None if refused."""
    args = _CloneArgs()
    args.flags = flags | (CLONE_INTO_CGROUP if cgroup_fd >= 0 else 0)
    args.exit_signal = 0 if flags & CLONE_PARENT else SIGCHLD  # CLONE_PARENT: the kernel uses ours
    if cgroup_fd >= 0:
        args.cgroup = cgroup_fd
    _py.PyOS_BeforeFork()
    pid = _syscall(SYS["clone3"], ctypes.byref(args), ctypes.sizeof(args))
    if pid == 0:
        _py.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    _py.PyOS_AfterFork_Parent()
    if pid > 0:
        return pid
    if err in (E.ENOSYS, E.EINVAL, E.EPERM, E.EACCES, E.EOPNOTSUPP, E.EBUSY):
        return None
    raise KernelError(err, "clone3")


def fork_parent() -> int:
    """Fork a child that is our parent's, not ours (CLONE_PARENT): the stage
    that forks a container's process exits at once, and the caller that started
    it reaps it by pid, with no subreaper (runc's nsexec does so for its init).
    clone3 where the kernel allows it, else the classic clone(2) (a seccomp
    policy that refuses clone3 with ENOSYS, as Docker's does).  0 in the child."""
    pid = clone3(CLONE_PARENT)
    if pid is not None:
        return pid
    _py.PyOS_BeforeFork()
    # clone(flags, stack=0: the child runs on a copy of our stack, as after fork)
    pid = _syscall(SYS["clone"], ctypes.c_ulong(CLONE_PARENT), ctypes.c_ulong(0), ctypes.c_ulong(0),
                   ctypes.c_ulong(0), ctypes.c_ulong(0))
    if pid == 0:
        _py.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    _py.PyOS_AfterFork_Parent()
    if pid < 0:
        raise KernelError(err, "clone(CLONE_PARENT)")
    return pid
