"""Terminal facts the engine needs (a window size to give a new pty) and
pidfd_open.  The pty itself is created inside the container (its own devpts
instance) and its master comes back over the sync socket; proxying it to the
caller's terminal (raw mode, SIGWINCH) is the CLI's: nsbox/cli/terminal.py."""

from __future__ import annotations

from ..kernel.libc import SYS, syscall


def pidfd_open(pid: int) -> int:
    fd = syscall(SYS["pidfd_open"], pid, 0)
    return int(fd)

def get_winsize(fd: int) -> tuple[int, int] | None:
    import fcntl
    import struct
    import termios

    try:
        rows, cols, _x, _y = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return rows, cols
