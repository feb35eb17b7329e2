"""``nsbox.Pool``: fresh, isolated sandboxes from a warm server, in about a millisecond.

    with nsbox.Pool(size=4, rootfs="/srv/root", memory="256m", pids_limit=64) as pool:
        r = pool.run(["sh", "-c", "echo $((6 * 7))"], timeout=5)
        r = await pool.arun(["sh", "-c", "echo $X"], env={"X": "1"}, text=True)

The template takes ``nsbox.run``'s keywords; each run gets fresh PID, mount, IPC,
UTS, network (loopback only) and cgroup namespaces, a fresh writable layer, and
its own cgroup, emptied when it ends.  This is the caller's side: it starts the
server (nsbox.pool.server) once, passes each run's pipes to it and reads the
result.  No threads of its own for ``run``, no signal handlers, no reaping but
its own server's.  Safe from many threads and tasks: at most ``size`` runs at
once, the others wait their turn.
"""

from __future__ import annotations

import _socket
import errno
import threading

from ..api.result import Reason, Result, from_status
from ..api.run import DEVNULL, PIPE, STDOUT  # noqa: F401 - the same values as nsbox.run's (and subprocess's)
from ..errors import ConfigError, PoolClosed
from . import options as O
from . import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from concurrent.futures import ThreadPoolExecutor
    from typing import Any

    from ..runtime.state import Store
    from .stdio import Stdio



class Pool:
    """A pool of ``size`` sandbox slots built from one template (``nsbox.run``'s keywords).

    ``warm``: how many sandboxes are kept set up ahead of their run (default 2,
    at most ``size``): each costs a forked interpreter's memory while idle
    (about 11 MiB RSS, 3 MiB of it its own); the other slots are set up when a
    run needs them (a few ms)."""

    def __init__(self, size: int = 1, *, warm: int | None = None, **template: Any) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 256:
            raise ConfigError(f"size `{size!r}`: expected a number of slots from 1 to 256")
        if warm is not None and (isinstance(warm, bool) or not isinstance(warm, int) or not 0 < warm <= size):
            raise ConfigError(f"warm `{warm!r}`: expected a number from 1 to size ({size})")
        self.size = size
        self._closed = False
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._executor: ThreadPoolExecutor | None = None
        opts = O.template_options(template)
        from ..runtime.state import Store

        store = Store()
        collect(store)
        from .spawn import start

        self._ctl, self._proc, started = start(opts, size, warm, store.root)
        self._limits: dict[str, float | None] = started["limits"]
        self.warnings: list[str] = list(started.get("warnings") or ())
        self.cgroups: bool = bool(started.get("cgroups"))
        if self.warnings:
            import warnings

            from ..errors import LimitWarning

            for w in self.warnings:
                warnings.warn(w, LimitWarning, stacklevel=2)

    # -- the API ---------------------------------------------------------------
    def run(self, argv: Sequence[str], *, input: bytes | str | None = None, stdin: Any = DEVNULL,
            stdout: Any = PIPE, stderr: Any = PIPE, text: bool = False, encoding: str | None = None,
            errors: str | None = None, env: dict[str, str] | None = None, cwd: str | None = None,
            timeout: float | None = None, check: bool = False, memory: Any = None, pids_limit: Any = None,
            cpus: Any = None) -> Result:
        """Run ``argv`` in a fresh sandbox; the same :class:`nsbox.Result` (and the
        same ``input``/``stdin``/``stdout``/``stderr``/``text``/``check``) as ``nsbox.run``.

        ``env`` adds to the template's environment, ``cwd`` replaces its working
        directory; ``memory``, ``pids_limit``, ``cpus`` narrow its limits for this run.

        >>> pool.run(["sh", "-c", "echo $X"], env={"X": "1"}, text=True).stdout
        '1\\n'
        """
        return self._call(argv, input, stdin, stdout, stderr, text, encoding, errors, env, cwd, timeout, check,
                          memory, pids_limit, cpus, None)

    def _call(self, argv: Sequence[str], input: bytes | str | None, stdin: Any, stdout: Any, stderr: Any,
              text: bool, encoding: str | None, errors: str | None, env: dict[str, str] | None,
              cwd: str | None, timeout: float | None, check: bool, memory: Any, pids_limit: Any, cpus: Any,
              cancel: _Cancel | None) -> Result:
        from ..api.run import _input, _timeout

        req = self._request(argv, env, cwd, _timeout(timeout), memory, pids_limit, cpus)
        data = _input(input, text, encoding, errors)
        if self._closed:
            raise PoolClosed("pool: closed")
        with self._slots:
            result = self._run(req, data, stdin, stdout, stderr, cancel)
        if text or encoding or errors:
            from ..api.run import _decode

            result.stdout = _decode(result.stdout, True, encoding, errors)  # type: ignore[arg-type]
            result.stderr = _decode(result.stderr, True, encoding, errors)  # type: ignore[arg-type]
        if check:
            result.check_returncode()
        return result

    async def arun(self, argv: Sequence[str], *, input: bytes | str | None = None, stdin: Any = DEVNULL,
                   stdout: Any = PIPE, stderr: Any = PIPE, text: bool = False, encoding: str | None = None,
                   errors: str | None = None, env: dict[str, str] | None = None, cwd: str | None = None,
                   timeout: float | None = None, check: bool = False, memory: Any = None,
                   pids_limit: Any = None, cpus: Any = None) -> Result:
        """:meth:`run` for asyncio: awaits its turn and its result without blocking
        the loop (on one of ``size`` threads).  Cancelling the task kills the run."""
        import asyncio
        import functools

        if self._closed:
            raise PoolClosed("pool: closed")
        loop = asyncio.get_running_loop()
        cancel = _Cancel()
        call = functools.partial(self._call, argv, input, stdin, stdout, stderr, text, encoding, errors, env, cwd,
                                 timeout, check, memory, pids_limit, cpus, cancel)
        try:
            return await loop.run_in_executor(self._pool_executor(), call)
        except asyncio.CancelledError:
            cancel.fire()  # the server sees the run's socket close: it kills the sandbox
            raise

    def close(self) -> None:
        """End the pool: its server kills the runs still going (they raise
        PoolClosed), removes the sandboxes' cgroups and its state, and exits."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._ctl.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        self._ctl.close()
        try:
            self._proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - a stuck server: kill it (GC collects the rest)
            self._proc.kill()
            self._proc.wait()
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            try:
                self._ctl.close()  # the server sees EOF and cleans up
            except Exception:  # noqa: BLE001
                pass

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._proc.pid

    # -- internals -------------------------------------------------------------
    def _pool_executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                from concurrent.futures import ThreadPoolExecutor

                self._executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="nsbox-pool")
            return self._executor

    def _request(self, argv: Sequence[str], env: dict[str, str] | None, cwd: str | None, timeout: float | None,
                 memory: Any, pids_limit: Any, cpus: Any) -> dict[str, Any]:
        args = O.check_argv(argv)
        return {"type": "run", "args": args, "env": O.check_env(env), "cwd": O.check_cwd(cwd),
                "timeout": timeout,
                "limits": O.run_limits(self._limits, memory=memory, pids_limit=pids_limit, cpus=cpus)}

    def _run(self, req: dict[str, Any], input: bytes | None, stdin: Any, stdout: Any, stderr: Any,
             cancel: _Cancel | None = None) -> Result:
        from .stdio import Stdio

        io = Stdio(input, stdin, stdout, stderr)
        mine, theirs = wire.socketpair()
        if cancel is not None and not cancel.hold(mine):
            io.close()
            mine.close()
            theirs.close()
            raise PoolClosed("pool: run cancelled")
        try:
            req["stdio"] = io.modes
            try:
                with self._lock:
                    if self._closed:
                        raise PoolClosed("pool: closed")
                    wire.send(self._ctl, req, (theirs.fileno(), *io.send_fds))
            except OSError as e:
                if e.errno in (errno.EMSGSIZE, errno.ENOBUFS):
                    raise ConfigError("pool.run: the request (arguments and environment) is larger than a "
                                      f"pool's socket carries ({e.strerror})") from None
                raise PoolClosed(self._died()) from None
            theirs.close()
            io.sent()
            msg = io.communicate(mine)
        finally:
            theirs.close()
            mine.close()
            io.close()
        if msg is None:
            if cancel is not None and cancel.fired:
                raise PoolClosed("pool: run cancelled")
            raise PoolClosed(self._died())
        if msg.get("type") == "error":
            wire.raise_error(msg)
        return self._result(req["args"], msg, io)

    def _result(self, args: list[str], msg: dict[str, Any], io: Stdio) -> Result:
        code, reason, sig = from_status(msg["status"])
        if msg.get("timed_out"):
            reason = Reason.TIMED_OUT
        elif msg.get("oom") and sig == 9:
            reason = Reason.OOM_KILLED
        out, err = io.output()
        return Result(args, code, stdout=out, stderr=err, reason=reason, signal=sig,
                      cpu_time=msg.get("cpu"), peak_memory=msg.get("peak"), wall_time=msg.get("wall", 0.0),
                      warnings=self.warnings)

    def _died(self) -> str:
        if self._closed:
            return "pool: closed"
        try:
            code = self._proc.wait(timeout=2.0)  # it closed its end: it is exiting, if not gone
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: still there
            return "pool: its server stopped answering"
        how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
        return f"pool: its server died ({how}); create a new Pool"


class _Cancel:
    """An arun's way to its thread's run: shut the run's socket down (the server
    then kills the sandbox), or refuse it if the run has not been sent yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: _socket.socket | None = None
        self.fired = False

    def hold(self, sock: _socket.socket) -> bool:
        with self._lock:
            self._sock = sock
            return not self.fired

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._sock is not None:
                try:
                    self._sock.shutdown(_socket.SHUT_RDWR)
                except OSError:
                    pass


def collect(store: Store) -> None:
    """Clean up after pools whose caller (and so server) was killed."""
    from .gc import collect_pools

    collect_pools(store)
