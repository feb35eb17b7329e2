"""The hostname a process sees, read through its UTS namespace.

A short-lived forked child joins the target's UTS namespace and calls uname(2);
this process never changes namespace.  /proc/PID/root/etc/hostname would be
wrong: it is a file the container may never have written (or written a lie).
"""

from __future__ import annotations

import errno as E
import os

from ..kernel import ns, prctl
from ..kernel.errors import KernelError


def read(pid: int, proc: str = "/proc") -> tuple[str, str]:
    """(hostname, domainname) as ``pid`` sees them; raises KernelError/OSError."""
    uts_fd = ns.open_ns(f"{proc}/{pid}/ns/uts")
    try:
        user_fd = ns.open_ns(f"{proc}/{pid}/ns/user")
    except KernelError:
        user_fd = -1
    try:
        return _ask_child(uts_fd, user_fd)
    finally:
        os.close(uts_fd)
        if user_fd >= 0:
            os.close(user_fd)


def _ask_child(uts_fd: int, user_fd: int) -> tuple[str, str]:
    r, w = os.pipe2(os.O_CLOEXEC)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(r)
        os._exit(_child(uts_fd, user_fd, w))
    os.close(w)
    chunks = []
    try:
        while True:
            data = os.read(r, 4096)
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(r)
        os.waitpid(child, 0)
    kind, _, rest = b"".join(chunks).decode(errors="replace").partition("\0")
    if kind == "ok":
        host, _, domain = rest.partition("\0")
        return host, domain
    err, _, msg = rest.partition("\0")
    raise KernelError(int(err or 0) or E.EPERM, msg or "read the hostname")


def _child(uts_fd: int, user_fd: int, w: int) -> int:  # pragma: no cover - runs in the child
    try:
        prctl.set_dumpable(False)  # nothing inside may ptrace us while we are in there
        try:
            ns.setns(uts_fd, "uts", "uts")
        except KernelError as e:
            # setns(2) needs CAP_SYS_ADMIN over the namespace's owner: an
            # unprivileged caller has it only after joining the (own) user namespace.
            if e.errno != E.EPERM or user_fd < 0:
                raise
            ns.setns(user_fd, "user", "user")
            ns.setns(uts_fd, "uts", "uts")
        host = os.uname().nodename
        try:
            with open("/proc/sys/kernel/domainname") as f:  # the caller's UTS namespace's value
                domain = f.read().strip()
        except OSError:
            domain = ""
        os.write(w, f"ok\0{host}\0{domain}".encode())
        return 0
    except BaseException as e:  # noqa: BLE001 - the child reports everything
        code = getattr(e, "errno", 0) or 0
        try:
            os.write(w, f"err\0{code}\0{e}".encode())
        except OSError:
            pass
        return 1
