"""The caller's terminal while a container runs in the foreground (``-t``):
raw mode, the window size (SIGWINCH) and copying to and from the pty master.
The CLI's business: the library never changes its caller's terminal."""

from __future__ import annotations

import _signal
import errno as E
import os
import select

from ..runtime.tty import get_winsize, pidfd_open


class Terminal:
    def __init__(self, master: int, stdin: int = 0, stdout: int = 1) -> None:
        self.master = master
        self.stdin = stdin
        self.stdout = stdout
        self.saved = None
        self.stdin_open = True

    def __enter__(self) -> Terminal:
        if os.isatty(self.stdin):
            import termios
            import tty

            self.saved = termios.tcgetattr(self.stdin)
            tty.setraw(self.stdin, termios.TCSANOW)
        self.resize()
        _signal.signal(_signal.SIGWINCH, lambda *_: self.resize())
        return self

    def __exit__(self, *exc: object) -> None:
        _signal.signal(_signal.SIGWINCH, _signal.SIG_DFL)
        if self.saved is not None:
            import termios

            termios.tcsetattr(self.stdin, termios.TCSADRAIN, self.saved)
            self.saved = None

    def resize(self) -> None:
        size = get_winsize(self.stdin) or get_winsize(self.stdout)
        if size:
            from ..runtime.process import set_winsize

            try:
                set_winsize(self.master, *size)
            except OSError:
                pass

    def pump(self, pid: int) -> None:
        """Copy until the container's init exits (its pidfd becomes readable)."""
        pidfd = pidfd_open(pid)
        p = select.poll()
        p.register(self.master, select.POLLIN)
        if self.stdin_open:
            p.register(self.stdin, select.POLLIN)
        if pidfd >= 0:
            p.register(pidfd, select.POLLIN)
        try:
            while True:
                try:
                    events = p.poll()
                except InterruptedError:
                    continue
                for fd, _ev in events:
                    if fd == pidfd:
                        self._drain()
                        return
                    if fd == self.master:
                        if not self._copy(self.master, self.stdout):
                            p.unregister(self.master)
                            if pidfd < 0:
                                return
                    elif fd == self.stdin:
                        if not self._copy(self.stdin, self.master):
                            p.unregister(self.stdin)
                            self.stdin_open = False
                            try:
                                os.write(self.master, b"\x04")  # EOF for the line discipline
                            except OSError:
                                pass
        finally:
            if pidfd >= 0:
                os.close(pidfd)

    def _copy(self, src: int, dst: int) -> bool:
        try:
            data = os.read(src, 65536)
        except OSError as e:
            if e.errno in (E.EIO, E.EBADF):
                return False
            raise
        if not data:
            return False
        while data:
            try:
                n = os.write(dst, data)
            except OSError as e:
                if e.errno == E.EIO:
                    return False
                raise
            data = data[n:]
        return True

    def _drain(self) -> None:
        os.set_blocking(self.master, False)
        try:
            while self._copy(self.master, self.stdout):
                pass
        except BlockingIOError:
            pass
