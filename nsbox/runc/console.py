"""--console-socket: the pty master goes to the caller by SCM_RIGHTS (as runc:
one message whose data is the terminal's name, the fd as ancillary data)."""

from __future__ import annotations

import os

from ..errors import NsboxError


def connect(path: str):
    """Connected before anything runs: a wrong --console-socket fails early."""
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    dfd = -1
    try:
        target = path
        if len(os.fsencode(path)) >= 108:  # sockaddr_un's sun_path: through the directory
            dfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_CLOEXEC)
            target = f"/proc/self/fd/{dfd}/{os.path.basename(path)}"
            if len(os.fsencode(target)) >= 108:
                raise NsboxError(f"--console-socket `{path}`: the socket's name is too long")
        s.connect(target)
    except OSError as e:
        s.close()
        raise NsboxError(f"--console-socket `{path}`: {e.strerror or e}") from None
    except BaseException:
        s.close()
        raise
    finally:
        if dfd >= 0:
            os.close(dfd)
    return s


def send_master(path: str, master: int, s=None) -> None:
    import socket

    s = s or connect(path)
    try:
        socket.send_fds(s, [b"/dev/ptmx"], [master])
    except OSError as e:
        raise NsboxError(f"--console-socket `{path}`: send the terminal: {e.strerror}") from None
    finally:
        s.close()


def write_pid_file(path: str, pid: int) -> None:
    """Atomically (a reader never sees it half written), as runc does; the
    temporary file is a new one (O_EXCL, O_NOFOLLOW): a link planted at its
    name in a directory others may write is not followed."""
    path = os.path.abspath(path)
    tmp = f"{os.path.dirname(path)}/.{os.path.basename(path)}.{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise NsboxError(f"--pid-file `{path}`: create `{tmp}`: {e.strerror}") from None
    try:
        try:
            os.write(fd, str(pid).encode())
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise NsboxError(f"--pid-file `{path}`: {e.strerror}") from None
