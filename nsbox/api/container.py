"""``nsbox.Container``: a container that outlives the call that started it.

It is what ``nsbox run -d`` makes (runtime/detach.py): a small supervisor
process of nsbox's own, not the caller's child, holds it, records its exit and
keeps its output in a log.  So the CLI sees the containers the API started,
``Container.attach`` takes one the CLI started, and the caller's own children
and signals are never touched.  ``exec`` runs a command in it and captures its
output as ``nsbox.run`` does.
"""

from __future__ import annotations

import os
import time

from ..errors import ConfigError, Conflict, Error
from .result import Reason, Result
from .run import DEVNULL, PIPE, Running

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO, Any

    from ..runtime import state as S
    from ..specgen.options import RunOptions
    from .run import _Pipes


def _store() -> S.Store:
    from ..runtime.gc import collect
    from ..runtime.state import Store

    s = Store()
    s.ensure()
    collect(s)
    return s


class Container:
    """A container running ``argv`` in the background.

    >>> with nsbox.Container(["sleep", "60"], name="web", memory="128m") as c:
    ...     c.exec(["hostname"]).stdout
    b'web\\n'

    Keywords are ``nsbox.run``'s.  ``start()`` returns once the command runs;
    as a context manager it is started on entry (if it is not running) and
    removed on exit, exceptions included.
    """

    def __init__(self, argv: Sequence[str], *, name: str | None = None, **options: Any) -> None:
        from .options import run_options

        self._opts: RunOptions | None = run_options(argv, options, caller="nsbox.Container", detach=True)
        if name is not None:
            from ..runtime.state import valid_id

            if not isinstance(name, str):
                raise ConfigError(f"name `{name!r}`: expected a string")
            try:
                valid_id(name, "container name")
            except Error as e:
                raise ConfigError(str(e)) from None
            self._opts = self._opts.replace(name=name)
        self.id = ""
        self.name = name or ""

    @classmethod
    def attach(cls, name_or_id: str) -> Container:
        """The container of that name or id (or unique id prefix), whoever started it.

        >>> nsbox.Container.attach("web").status
        'running'
        """
        c = _store().lookup(name_or_id)
        self = cls.__new__(cls)
        self._opts = None
        self.id = c.id
        self.name = c.state.get("name") or ""
        return self

    def __repr__(self) -> str:
        return f"Container(id={self.id[:12]!r}, name={self.name!r})" if self.id else "Container(not started)"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Container:
        """Create and start it; return once its command runs."""
        if self.id:
            raise Conflict(f"start `{self.name or self.id[:12]}`: already started")
        if self._opts is None:
            raise Conflict("start: an attached container is started by whoever created it")
        from ..runtime.detach import run_detached
        from .options import relabel

        try:
            self.id = run_detached(self._opts, _store())
        except ConfigError as e:
            raise relabel(e) from None
        self.name = self.name or self.id[:12]
        return self

    def _ref(self, what: str) -> str:
        if not self.id:
            raise Conflict(f"{what}: the container was not started")
        return self.id

    def _container(self, what: str) -> S.Container:
        return _store().lookup(self._ref(what))

    def kill(self, signal: int = 9) -> None:
        """Send ``signal`` (a number, or a name like "SIGTERM") to its init."""
        from ..runtime.control import kill, parse_signal

        sig = parse_signal(signal) if isinstance(signal, str) else signal
        if isinstance(sig, bool) or not isinstance(sig, int) or not 0 < sig < 65:
            raise ConfigError(f"kill: signal `{signal!r}`: expected a signal number or name")
        kill(_store(), self._ref("kill"), sig)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns once it has exited."""
        from ..runtime.control import stop

        stop(_store(), self._ref("stop"), float(timeout))

    def remove(self, force: bool = False) -> None:
        """Remove it (``force``: kill it first if it runs, as ``nsbox rm -f``)."""
        from ..runtime.control import remove

        remove(_store(), self._ref("remove"), force=force)

    def wait(self, timeout: float | None = None) -> Result:
        """Wait until its command exits; its returncode and reason (no output:
        see ``logs()``).  TimeoutError after ``timeout`` seconds."""
        from ..runtime.control import wait

        ref = self._ref("wait")
        if timeout is not None:
            deadline = time.monotonic() + timeout
            while self.status != "stopped":
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"wait `{self.name or ref[:12]}`: still running after {timeout} s")
                time.sleep(0.01)
        code = wait(_store(), ref)
        return self._exit_result(code)

    async def await_exit(self) -> Result:
        """``wait()`` for asyncio: the event loop watches its init (a pidfd); no thread waits."""
        import asyncio

        pid = self.pid
        if pid:
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                fd = -1
            if fd >= 0:
                loop = asyncio.get_running_loop()
                gone = loop.create_future()

                def on_exit() -> None:
                    if not gone.done():
                        gone.set_result(None)

                loop.add_reader(fd, on_exit)
                try:
                    await gone
                finally:
                    loop.remove_reader(fd)
                    os.close(fd)
        return await asyncio.get_running_loop().run_in_executor(None, self.wait)

    def _exit_result(self, code: int) -> Result:
        reason, sig = Reason.EXITED, None
        try:
            st = _store().lookup(self.id).state
        except Error:
            st = {}
        if st.get("exitReason") == "oom-killed":
            reason = Reason.OOM_KILLED
        elif code > 128:
            reason, sig = Reason.SIGNALLED, code - 128
        return Result(list(st.get("command") or []), code, reason=reason, signal=sig, container_id=self.id)

    def __enter__(self) -> Container:
        if not self.id:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.id:
            try:
                self.remove(force=True)
            except Error:
                if exc[0] is None:
                    raise

    # -- what it is -------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        from ..runtime.listing import entry

        return entry(self._container("status"))

    @property
    def status(self) -> str:
        """created, running, paused or stopped (the live status)."""
        return str(self._state()["status"])

    @property
    def pid(self) -> int:
        """Its init's pid (0 once it stopped)."""
        return int(self._state()["pid"] or 0)

    @property
    def namespaces(self) -> dict[str, str]:
        """kind -> the namespace link (``{"net": "net:[4026532567]", ...}``) of its init."""
        pid = self.pid
        if not pid:
            raise Conflict(f"namespaces `{self.name or self.id[:12]}`: container is not running")
        out = {}
        for link in ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"):
            try:
                out[link] = os.readlink(f"/proc/{pid}/ns/{link}")
            except OSError:
                continue
        return out

    def logs(self) -> bytes:
        """Its output so far (stdout and stderr, as ``nsbox logs``)."""
        c = self._container("logs")
        try:
            with open(c.log_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def stats(self) -> dict[str, float | int | None]:
        """One reading of its usage: cpu_time (s), memory and memory_limit (bytes),
        pids, block I/O and network bytes (None: no such counter here)."""
        from ..cgroups.detect import detect
        from ..cgroups.stats import sample

        c = self._container("stats")
        st = c.state
        path = next((r.get("path") for r in st.get("resources", []) if r.get("kind") == "cgroup"), None)
        s = sample(detect(), path, self.pid)
        return {"cpu_time": s.cpu_ns / 1e9 if s.cpu_ns is not None else None, "memory": s.mem_usage,
                "memory_limit": s.mem_limit, "pids": s.pids, "block_read": s.blk_read,
                "block_write": s.blk_write, "net_rx": s.net_rx, "net_tx": s.net_tx}

    # -- exec -------------------------------------------------------------------------------
    def exec(self, argv: Sequence[str], *, input: bytes | str | None = None,
             stdin: int | IO[Any] | None = DEVNULL, stdout: int | IO[Any] | None = PIPE,
             stderr: int | IO[Any] | None = PIPE, text: bool = False, encoding: str | None = None,
             errors: str | None = None, env: dict[str, str] | Sequence[str] | None = None,
             cwd: str | None = None, user: str | None = None, timeout: float | None = None,
             check: bool = False) -> Result:
        """Run ``argv`` in the container (its namespaces, cgroup, user and
        security settings, as ``nsbox exec``) and wait for it."""
        from .run import _drain, _finish, _pump

        job = self._exec_job(argv, input, stdin, stdout, stderr, text, encoding, errors, env, cwd, user, timeout)
        try:
            _pump(job, job.limit)
            job.reap()
            result = job.result(argv)
            _drain(job.pipes)
        finally:
            job.close()
        return _finish(result, job.pipes, text, encoding, errors, check)

    async def aexec(self, argv: Sequence[str], *, input: bytes | str | None = None,
                    stdin: int | IO[Any] | None = DEVNULL, stdout: int | IO[Any] | None = PIPE,
                    stderr: int | IO[Any] | None = PIPE, text: bool = False, encoding: str | None = None,
                    errors: str | None = None, env: dict[str, str] | Sequence[str] | None = None,
                    cwd: str | None = None, user: str | None = None, timeout: float | None = None,
                    check: bool = False) -> Result:
        """``exec`` for asyncio (the joining runs in the default executor, the wait
        and the copying in the event loop)."""
        import asyncio

        from .run import _adrain, _apump, _finish

        loop = asyncio.get_running_loop()
        job = await loop.run_in_executor(None, lambda: self._exec_job(
            argv, input, stdin, stdout, stderr, text, encoding, errors, env, cwd, user, timeout))
        try:
            await _apump(loop, job, job.limit)
            job.reap()
            result = job.result(argv)
            await _adrain(loop, job.pipes)
        finally:
            job.close()
        return _finish(result, job.pipes, text, encoding, errors, check)

    def _exec_job(self, argv: Sequence[str], input: Any, stdin: Any, stdout: Any, stderr: Any, text: bool,
                  encoding: str | None, errors: str | None, env: Any, cwd: str | None, user: str | None,
                  timeout: float | None) -> ExecJob:
        from ..specgen.options import ExecOptions
        from .options import _many, command
        from .run import _input, _Pipes, _timeout

        ref = self._ref("exec")
        cmd = command(argv, "Container.exec")
        envs = _many("env", "env", env)
        for value, what in ((cwd, "cwd"), (user, "user")):
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{what} `{value!r}`: expected a string")
        opts = ExecOptions(container=ref, command=cmd, interactive=True, env=envs, workdir=cwd, user=user)
        limit = _timeout(timeout)
        pipes = _Pipes(_input(input, text, encoding, errors), stdin, stdout, stderr)
        return ExecJob(opts, pipes, limit)


class ExecJob(Running):
    """One exec's state for the pump (the same as a run's: pidfd, timeout, pipes)."""

    def __init__(self, opts: Any, pipes: _Pipes, limit: float | None) -> None:
        from ..runtime.exec import spawn_in
        from .options import relabel

        self.pipes = pipes
        self.limit = limit
        try:
            self.pid, master = spawn_in(opts, _store(), (pipes.child[0], pipes.child[1], pipes.child[2]))
        except ConfigError as e:
            pipes.close()
            raise relabel(e) from None
        except BaseException:
            pipes.close()
            raise
        if master >= 0:
            os.close(master)
        self.started = time.monotonic()
        self.pidfd = os.pidfd_open(self.pid)
        pipes.started()

    def reap(self) -> None:
        while self.pid > 0:
            try:
                _pid, self.status = os.waitpid(self.pid, 0)
            except InterruptedError:
                continue
            except ChildProcessError:
                self.status = 255 << 8
            self.pid = 0  # reaped: that number may be someone else's now

    def result(self, argv: Sequence[str]) -> Result:
        from .result import from_status

        code, reason, sig = from_status(self.status)
        if self.timed_out:
            reason = Reason.TIMED_OUT
        return Result(argv, code, reason=reason, signal=sig, wall_time=time.monotonic() - self.started)

    def close(self) -> None:
        if self.pidfd >= 0:
            if self.pid > 0:  # not reaped: the caller gave up (an exception, a cancelled task)
                self.kill()
                self.reap()
            os.close(self.pidfd)
            self.pidfd = -1
        self.pipes.close()


def containers(all: bool = False) -> list[Container]:
    """The containers nsbox knows (running ones; ``all``: stopped ones too),
    newest first, whoever started them (the CLI or this API).

    >>> [c.name for c in nsbox.containers()]
    ['web']
    """
    from ..runtime.listing import entries

    out = []
    for e in entries(_store(), all):
        c = Container.__new__(Container)
        c._opts = None
        c.id = e["id"]
        c.name = e["name"] or ""
        out.append(c)
    return out
