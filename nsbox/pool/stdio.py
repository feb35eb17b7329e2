"""A run's stdin, stdout and stderr on the caller's side, as subprocess.run has them.

``input`` (bytes) is written to a pipe; PIPE captures, DEVNULL is the sandbox's
own /dev/null, None passes the caller's own fd, an int or a file object passes
that fd, STDOUT (for stderr) goes where stdout goes.  The pipes'
other ends travel to the sandbox by SCM_RIGHTS; communicate() then writes the
input and reads both outputs until EOF and the server's result arrives.
"""

from __future__ import annotations

import os
import select

from ..api.run import DEVNULL, PIPE, STDOUT
from ..errors import ConfigError
from . import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from typing import Any

CHUNK = 65536


class Stdio:
    def __init__(self, input: bytes | None, stdin: Any, stdout: Any, stderr: Any) -> None:
        self.modes: list[str] = []
        self.send_fds: list[int] = []
        self._close_after_send: list[int] = []
        self.input = input
        self.stdin_w = -1
        self.readers: dict[int, bytearray] = {}
        self.out_fd = self.err_fd = -1
        try:
            if self.input is not None:
                r, self.stdin_w = os.pipe2(os.O_CLOEXEC)
                self._pass(r, owned=True)
            else:
                self._input(stdin)
            self.out_fd = self._output(stdout, "stdout", 1)
            self.err_fd = self._output(stderr, "stderr", 2)
        except BaseException:
            self.close()
            raise

    def _input(self, how: Any) -> None:
        if how == DEVNULL:
            self.modes.append("null")
        elif how is None:
            self._pass(0, owned=False)
        elif isinstance(how, int) and not isinstance(how, bool) and how >= 0:
            self._pass(how, owned=False)
        elif hasattr(how, "fileno"):
            self._pass(how.fileno(), owned=False)
        else:
            raise ConfigError(f"stdin `{how!r}`: expected DEVNULL, None, a file descriptor or a file "
                              "(or give input=)")

    def _pass(self, fd: int, owned: bool) -> None:
        if not owned:
            try:
                os.fstat(fd)  # a closed fd would fail the whole request, as if the server died
            except OSError as e:
                raise ConfigError(f"{('stdin', 'stdout', 'stderr')[len(self.modes)]} `{fd}`: {e.strerror}") from None
        self.modes.append("fd")
        self.send_fds.append(fd)
        if owned:
            self._close_after_send.append(fd)

    def _output(self, how: Any, name: str, own: int) -> int:
        if how == PIPE:
            r, w = os.pipe2(os.O_CLOEXEC)
            self.readers[r] = bytearray()
            self._pass(w, owned=True)
            return r
        if how == DEVNULL:
            self.modes.append("null")
        elif how == STDOUT and name == "stderr":
            self.modes.append("out")
        elif how is None:
            self._pass(own, owned=False)
        elif isinstance(how, int) and not isinstance(how, bool) and how >= 0:
            self._pass(how, owned=False)
        elif hasattr(how, "fileno"):
            self._pass(how.fileno(), owned=False)
        else:
            raise ConfigError(f"{name} `{how!r}`: expected PIPE, DEVNULL, None, a file descriptor or a file"
                              + (" (or STDOUT)" if name == "stderr" else ""))
        return -1

    def sent(self) -> None:
        """The sandbox has its ends now: ours must go, or EOF would never come."""
        for fd in self._close_after_send:
            os.close(fd)
        self._close_after_send = []

    def communicate(self, reply: _socket.socket) -> dict | None:
        """Write the input, read the outputs; the server's message (None: it died)."""
        p = select.poll()
        p.register(reply.fileno(), select.POLLIN)
        for fd in self.readers:
            p.register(fd, select.POLLIN)
        data = memoryview(bytes(self.input)) if self.input is not None else None
        if self.stdin_w >= 0:
            os.set_blocking(self.stdin_w, False)
            p.register(self.stdin_w, select.POLLOUT)
        msg: dict | None = None
        got_reply = False
        open_readers = set(self.readers)
        while not got_reply or open_readers:
            for fd, ev in p.poll():
                if fd == reply.fileno():
                    msg, fds = wire.recv(reply)
                    for extra in fds:
                        os.close(extra)
                    got_reply = True
                    p.unregister(fd)
                    if msg is None:  # the server died: its sandbox too, so the pipes end soon
                        pass
                elif fd == self.stdin_w:
                    data = self._write(data, ev)
                    if data is None:
                        p.unregister(fd)
                        os.close(self.stdin_w)
                        self.stdin_w = -1
                else:
                    chunk = os.read(fd, CHUNK)
                    if chunk:
                        self.readers[fd] += chunk
                    else:
                        p.unregister(fd)
                        open_readers.discard(fd)
        return msg

    def _write(self, data: memoryview | None, ev: int) -> memoryview | None:
        if data is None or not len(data) or ev & (select.POLLERR | select.POLLHUP):
            return None
        try:
            n = os.write(self.stdin_w, data[:CHUNK])
        except BlockingIOError:
            return data
        except BrokenPipeError:
            return None
        rest = data[n:]
        return rest if len(rest) else None

    def output(self) -> tuple[bytes | None, bytes | None]:
        def take(fd: int) -> bytes | None:
            return None if fd < 0 else bytes(self.readers.get(fd, b""))

        return take(self.out_fd), take(self.err_fd)

    def close(self) -> None:
        for fd in list(self._close_after_send) + list(self.readers):
            try:
                os.close(fd)
            except OSError:
                pass
        self._close_after_send = []
        if self.stdin_w >= 0:
            os.close(self.stdin_w)
            self.stdin_w = -1
