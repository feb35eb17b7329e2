"""``nsbox.run`` and ``await nsbox.arun``: a container run to completion, in the
caller's process, with its output captured (as subprocess.run).

The engine's stages (runtime/run.py) in the documented order; around them, the
caller's side: pipes for the container's stdin/stdout/stderr (init dup2()s
them, runtime/init.py), a pidfd to wait on, the timeout, the usage counters of
the container's cgroup.  Nothing here touches the caller's signals, terminal
or other children: init is the caller's child (CLONE_PARENT) and is reaped by
its pid; every other process of the container dies with its PID namespace or
is killed through its cgroup.
"""

from __future__ import annotations

import os
import time

from ..errors import ConfigError
from .result import Reason, Result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO, Any

    from ..runtime.create import Created
    from ..specgen.options import RunOptions

# as subprocess's
PIPE = -1
STDOUT = -2
DEVNULL = -3
_CHUNK = 65536


class _Pipes:
    """The caller's ends of the container's stdio; non-blocking, pumped by a
    poll loop (run) or by the event loop's readers (arun)."""

    def __init__(self, input: bytes | None, stdin: Any, stdout: Any, stderr: Any) -> None:
        self.child: list[int] = [-1, -1, -1]   # what init gets as 0, 1, 2 (-1: ours, inherited)
        self.close_after_start: list[int] = []
        self.out: dict[int, list[bytes]] = {}  # our read end -> chunks
        self.names: dict[int, str] = {}        # our read end -> "stdout" | "stderr"
        self.open: set[int] = set()            # read ends not at EOF yet
        self.to_write = memoryview(input) if input is not None else None
        self.write_fd = -1
        try:
            self._stdin(input, stdin)
            self._output(1, "stdout", stdout)
            if stderr == STDOUT:
                self.child[2] = self.child[1] if self.child[1] >= 0 else 1
            else:
                self._output(2, "stderr", stderr)
        except BaseException:
            self.close()
            raise

    def _stdin(self, input: bytes | None, stdin: Any) -> None:
        if input is not None:
            if stdin not in (DEVNULL, PIPE):
                raise ConfigError("input: cannot be given with stdin (input is the container's stdin)")
            r, w = os.pipe()
            self.child[0], self.write_fd = r, w
            self.close_after_start.append(r)
            os.set_blocking(w, False)
        else:
            self.child[0] = self._fd("stdin", stdin, os.O_RDONLY)

    def _output(self, n: int, name: str, how: Any) -> None:
        if how == PIPE:
            r, w = os.pipe()
            self.child[n] = w
            self.close_after_start.append(w)
            os.set_blocking(r, False)
            self.out[r] = []
            self.names[r] = name
            self.open.add(r)
        else:
            self.child[n] = self._fd(name, how, os.O_WRONLY)

    def _fd(self, name: str, how: Any, mode: int) -> int:
        if how is None:
            return -1
        if how == DEVNULL:
            fd = os.open("/dev/null", mode | os.O_CLOEXEC)
            self.close_after_start.append(fd)
            return fd
        if how == PIPE:
            raise ConfigError(f"{name}: PIPE needs input= (use input=b\"...\" to feed the container)")
        fileno = how if isinstance(how, int) else getattr(how, "fileno", None)
        if callable(fileno):
            fileno = fileno()
        if not isinstance(fileno, int) or isinstance(fileno, bool) or fileno < 0:
            raise ConfigError(f"{name} `{how!r}`: expected None, nsbox.PIPE, nsbox.DEVNULL, a file "
                              "descriptor or a file object")
        try:
            os.fstat(fileno)
        except OSError as e:
            raise ConfigError(f"{name} `{fileno}`: {e.strerror}") from None
        return fileno

    def started(self) -> None:
        for fd in self.close_after_start:
            os.close(fd)
        self.close_after_start = []
        if self.write_fd >= 0 and not self.to_write:
            self._close_stdin()

    def readable(self, fd: int) -> bool:
        """Read what is there; False at EOF (then the caller stops watching it and
        calls eof(fd): a watched fd is never closed under its watcher)."""
        while True:
            try:
                data = os.read(fd, _CHUNK)
            except BlockingIOError:
                return True
            except InterruptedError:
                continue
            if not data:
                return False
            self.out[fd].append(data)
            if len(data) < _CHUNK:
                return True

    def eof(self, fd: int) -> None:
        os.close(fd)
        self.open.discard(fd)

    def writable(self) -> bool:
        """Feed stdin; False once all is written or the container closed it (the
        caller stops watching it, then calls stdin_done())."""
        assert self.to_write is not None
        try:
            n = os.write(self.write_fd, self.to_write[:_CHUNK * 4])
        except BlockingIOError:
            return True
        except BrokenPipeError:
            n = len(self.to_write)
        self.to_write = self.to_write[n:]
        return bool(self.to_write)

    def stdin_done(self) -> None:
        self._close_stdin()

    def _close_stdin(self) -> None:
        os.close(self.write_fd)
        self.write_fd = -1


    def output(self, name: str) -> bytes | None:
        for fd, chunks in self.out.items():
            if self.names[fd] == name:
                return b"".join(chunks)
        return None

    def close(self) -> None:
        """Close every descriptor still open (the output read so far stays)."""
        for fd in self.close_after_start + list(self.open):
            try:
                os.close(fd)
            except OSError:
                pass
        self.close_after_start = []
        self.open.clear()
        if self.write_fd >= 0:
            self._close_stdin()


class Running:
    """A process being waited for: what the pumps need (run's Job, Container.exec's ExecJob)."""

    pipes: _Pipes
    pidfd = -1
    started = 0.0
    timed_out = False
    status = 0

    def kill(self) -> None:
        """SIGKILL it (the timeout, or the caller gave up)."""
        import signal

        if self.pidfd >= 0:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass


class Job(Running):
    """One run's state between the engine's stages (shared by run and arun)."""

    def __init__(self, opts: RunOptions, pipes: _Pipes) -> None:
        self.opts = opts
        self.pipes = pipes
        self.created: Created | None = None
        self.rusage: Any = None

    def start(self) -> None:
        """The engine's start-up (runtime/run.py launch); on failure everything is undone."""
        from ..runtime import state as S
        from ..runtime.run import launch
        from .options import relabel

        def before_start(created: Created) -> None:
            self.pidfd = os.pidfd_open(created.pid)

        try:
            self.created = launch(self.opts, S.Store(), stdio=(self.pipes.child[0], self.pipes.child[1],
                                                                self.pipes.child[2]), before_start=before_start)
            self.started = time.monotonic()
            self.pipes.started()
            self._warn()
        except BaseException as e:
            if self.pidfd >= 0:
                os.close(self.pidfd)
                self.pidfd = -1
            self.pipes.close()
            if isinstance(e, ConfigError):
                raise relabel(e) from None
            raise

    def _warn(self) -> None:
        """The limits this machine could not apply, as LimitWarnings naming keywords."""
        assert self.created is not None
        if not self.created.warnings:
            return
        import warnings

        from ..errors import LimitWarning
        from .options import relabel_text

        self.created.warnings = [relabel_text(w) for w in self.created.warnings]
        for w in self.created.warnings:
            warnings.warn(w, LimitWarning, stacklevel=4)

    def reap(self) -> None:
        """init exited (its pidfd is readable): collect its status and rusage."""
        assert self.created is not None
        while self.created.pid > 0:  # never 0 or -1: that would reap the caller's other children
            try:
                _pid, self.status, self.rusage = os.wait4(self.created.pid, 0)
                self.created.pid = 0  # reaped: that number may be someone else's now
                return
            except InterruptedError:
                continue
            except ChildProcessError:
                self.status = 255 << 8
                self.created.pid = 0
                return

    def end(self, args: Sequence[str]) -> Result:
        """After reap: the execve error if any, the counters, then finish."""
        from ..runtime.run import exited, finish
        from .result import from_status

        created = self.created
        assert created is not None
        wall = time.monotonic() - self.started
        code, reason, sig = from_status(self.status)
        try:
            exited(created, code)
            cpu, peak = self._usage()
        except BaseException:
            self._abandon()  # (closes the pidfd)
            raise
        finally:
            if self.pidfd >= 0:
                os.close(self.pidfd)
                self.pidfd = -1
        finish(created, code)
        self.created = None  # released: nothing left to abandon
        if self.timed_out:
            reason = Reason.TIMED_OUT
        elif created.exit_reason == "oom-killed":
            reason = Reason.OOM_KILLED
        return Result(args, code, reason=reason, signal=sig, cpu_time=cpu, peak_memory=peak, wall_time=wall,
                      warnings=created.warnings, container_id=created.container.id)

    def give_up(self) -> None:
        """The caller's wait ended in an exception (a signal, a cancelled task):
        kill the container, reap it, release everything."""
        self.kill()
        if self.created is not None and self.pidfd >= 0:
            self.reap()
        self._abandon()

    def _usage(self) -> tuple[float | None, int | None]:
        created = self.created
        assert created is not None
        cpu = peak = None
        if created.cgroup is not None:
            from ..cgroups.stats import usage

            cpu, peak = usage(created.cgroup.layout, created.cgroup.path)
        ru = self.rusage
        if ru is not None:  # no cgroup (rootless on v1): what init and the children it reaped used
            if cpu is None:
                cpu = ru.ru_utime + ru.ru_stime
            if peak is None:
                peak = ru.ru_maxrss * 1024
        return cpu, peak

    def _abandon(self) -> None:
        from ..runtime.run import abandon

        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
        self.pipes.close()
        if self.created is not None:
            if self.created.pid > 0:
                from ..runtime.create import kill_init

                kill_init(self.created)
            abandon(self.created)
            self.created = None


def _decode(data: bytes | None, text: bool, encoding: str | None, errors: str | None) -> bytes | str | None:
    if data is None or not (text or encoding or errors):
        return data
    return data.decode(encoding or "utf-8", errors or "strict")


def _input(input: bytes | str | None, text: bool, encoding: str | None, errors: str | None) -> bytes | None:
    if input is None:
        return None
    if isinstance(input, str):
        if not (text or encoding or errors):
            raise ConfigError("input: a str needs text=True (or give bytes)")
        return input.encode(encoding or "utf-8", errors or "strict")
    if isinstance(input, (bytes, bytearray, memoryview)):
        return bytes(input)
    raise ConfigError(f"input `{type(input).__name__}`: expected bytes (or str with text=True)")


def _timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"timeout `{timeout!r}`: expected a number of seconds > 0")
    return float(timeout)


def prepare(argv: Sequence[str], options: dict[str, Any], caller: str, input: bytes | str | None,
            stdin: Any, stdout: Any, stderr: Any, text: bool, encoding: str | None,
            errors: str | None, timeout: float | None) -> tuple[Job, float | None]:
    from .options import run_options

    opts = run_options(argv, options, caller=caller)
    limit = _timeout(timeout)
    data = _input(input, text, encoding, errors)
    return Job(opts, _Pipes(data, stdin, stdout, stderr)), limit


def run(argv: Sequence[str], *, input: bytes | str | None = None, stdin: int | IO[Any] | None = DEVNULL,
        stdout: int | IO[Any] | None = PIPE, stderr: int | IO[Any] | None = PIPE, text: bool = False,
        encoding: str | None = None, errors: str | None = None, timeout: float | None = None,
        check: bool = False, **options: Any) -> Result:
    """Run ``argv`` as PID 1 of a new container and wait for it (as subprocess.run).

    Keywords are ``nsbox run``'s options (docs/API.md); the output is captured
    unless ``stdout``/``stderr`` say otherwise; ``timeout`` kills the container
    and returns with ``reason`` "timed-out".

    >>> r = nsbox.run(["sh", "-c", "cat; echo done >&2"], input=b"hi\n", memory="64m", timeout=5)
    >>> r.returncode, r.stdout, r.stderr
    (0, b'hi\n', b'done\n')
    """
    job, limit = prepare(argv, options, "nsbox.run", input, stdin, stdout, stderr, text, encoding, errors,
                         timeout)
    job.start()
    try:
        _pump(job, limit)
        job.reap()
        result = job.end(argv)
        _drain(job.pipes)
    except BaseException:
        job.give_up()
        raise
    finally:
        job.pipes.close()
    return _finish(result, job.pipes, text, encoding, errors, check)


def _finish(result: Result, pipes: _Pipes, text: bool, encoding: str | None, errors: str | None,
            check: bool) -> Result:
    result.stdout = _decode(pipes.output("stdout"), text, encoding, errors)
    result.stderr = _decode(pipes.output("stderr"), text, encoding, errors)
    if check:
        result.check_returncode()
    return result


def _pump(job: Running, limit: float | None) -> None:
    """Copy stdin/stdout/stderr until init exits (or the timeout kills it)."""
    import select

    pipes = job.pipes
    p = select.poll()
    p.register(job.pidfd, select.POLLIN)
    for fd in pipes.out:
        p.register(fd, select.POLLIN)
    if pipes.write_fd >= 0:
        p.register(pipes.write_fd, select.POLLOUT)
    deadline = job.started + limit if limit is not None else None
    while True:
        wait = None if deadline is None or job.timed_out else max(0.0, deadline - time.monotonic())
        events = p.poll(None if wait is None else int(wait * 1000) + 1)
        if not events and deadline is not None and not job.timed_out and time.monotonic() >= deadline:
            job.timed_out = True
            job.kill()
            continue
        for fd, _ev in events:
            if fd == job.pidfd:
                return
            if fd == pipes.write_fd:
                if not pipes.writable():
                    p.unregister(fd)
                    pipes.stdin_done()
            elif not pipes.readable(fd):
                p.unregister(fd)
                pipes.eof(fd)


def _drain(pipes: _Pipes, limit: float = 2.0) -> None:
    """After finish() every process of the container is gone (PID namespace or
    cgroup): read the rest of its output.  A writer outside both (a process that
    shares our PID namespace and has no cgroup) gets ``limit`` seconds."""
    import select

    readers = list(pipes.open)
    p = select.poll()
    for fd in readers:
        p.register(fd, select.POLLIN)
    deadline = time.monotonic() + limit
    while readers:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for fd, _ev in p.poll(int(left * 1000) + 1):
            if not pipes.readable(fd):
                p.unregister(fd)
                readers.remove(fd)
                pipes.eof(fd)


async def arun(argv: Sequence[str], *, input: bytes | str | None = None, stdin: int | IO[Any] | None = DEVNULL,
               stdout: int | IO[Any] | None = PIPE, stderr: int | IO[Any] | None = PIPE, text: bool = False,
               encoding: str | None = None, errors: str | None = None, timeout: float | None = None,
               check: bool = False, **options: Any) -> Result:
    """``nsbox.run`` for asyncio: the start-up runs in the loop's default executor
    (it forks and blocks for milliseconds); the wait and the copying are the event
    loop's own (a pidfd and the pipes as readers), with no thread per container.
    Cancelling the task kills the container and removes it.

    >>> results = await asyncio.gather(*(nsbox.arun(["echo", str(i)]) for i in range(100)))
    >>> results[7].stdout
    b'7\n'
    """
    import asyncio

    job, limit = prepare(argv, options, "nsbox.arun", input, stdin, stdout, stderr, text, encoding, errors,
                         timeout)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, job.start)
    try:
        await _apump(loop, job, limit)
        job.reap()  # its pidfd is readable: this does not block
        result = await loop.run_in_executor(None, job.end, argv)
        await _adrain(loop, job.pipes)
    except BaseException:
        job.give_up()
        raise
    finally:
        job.pipes.close()
    return _finish(result, job.pipes, text, encoding, errors, check)


async def _apump(loop: Any, job: Running, limit: float | None) -> None:
    import asyncio

    exited = loop.create_future()

    def on_exit() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(job.pidfd, on_exit)
    watch = _Watch(loop, job.pipes)
    try:
        try:
            await asyncio.wait_for(asyncio.shield(exited), limit)
        except TimeoutError:
            job.timed_out = True
            job.kill()
            await exited
    finally:
        loop.remove_reader(job.pidfd)
        watch.stop()


class _Watch:
    """The pipes as event-loop readers and writer.  Each registration is removed
    exactly once, before its fd is closed: fd numbers are reused at once by the
    other runs this loop drives."""

    def __init__(self, loop: Any, pipes: _Pipes, write: bool = True) -> None:
        self.loop = loop
        self.pipes = pipes
        self.readers = set(pipes.open)
        self.writer = pipes.write_fd if write else -1
        self.done = loop.create_future()
        for fd in self.readers:
            loop.add_reader(fd, self._read, fd)
        if self.writer >= 0:
            loop.add_writer(self.writer, self._write)
        self._check()

    def _read(self, fd: int) -> None:
        if not self.pipes.readable(fd):
            self.loop.remove_reader(fd)
            self.readers.discard(fd)
            self.pipes.eof(fd)
            self._check()

    def _write(self) -> None:
        if not self.pipes.writable():
            self.loop.remove_writer(self.writer)
            self.writer = -1
            self.pipes.stdin_done()

    def _check(self) -> None:
        if not self.readers and not self.done.done():
            self.done.set_result(None)

    def stop(self) -> None:
        for fd in self.readers:
            self.loop.remove_reader(fd)
        self.readers.clear()
        if self.writer >= 0:
            self.loop.remove_writer(self.writer)
            self.writer = -1
        self._check()


async def _adrain(loop: Any, pipes: _Pipes, limit: float = 2.0) -> None:
    import asyncio

    if not pipes.open:
        return
    watch = _Watch(loop, pipes, write=False)
    try:
        await asyncio.wait_for(asyncio.shield(watch.done), limit)
    except TimeoutError:
        pass
    finally:
        watch.stop()
