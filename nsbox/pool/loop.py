"""The server's event loop: requests in, warm sandboxes out, results back.

One thread, one poll(2) over the control socket, each run's reply socket (EOF:
the caller gave up: the run is killed), each sandbox's socket ("ready", an
exec error, EOF once it exec'd) and pidfd (it exited), with the nearest
timeout as poll's.  A slot is: idle -> preparing -> ready -> running -> idle.
``warm`` slots are kept prepared ahead (a sandbox waiting for its command);
the others are prepared when a run needs them.
"""

from __future__ import annotations

import _signal
import _socket
import os
import select
import time

from ..runtime import sync
from . import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .server import Server
    from .slotcg import SlotCgroup

IN = select.POLLIN | select.POLLHUP | select.POLLERR
# Sandboxes kept set up ahead: each is a forked interpreter (~11 MiB RSS, ~3 MiB
# of it its own); two keep a stream of runs fed, as preparing one takes a few
# ms of the other CPU while a run goes on.
DEFAULT_WARM = 2


class Run:
    __slots__ = ("reply", "msg", "fds", "slot", "t0", "deadline", "error", "timed_out", "cancelled",
                 "cpu0", "oom0")

    def __init__(self, reply: _socket.socket, msg: dict, fds: list[int]) -> None:
        self.reply = reply
        self.msg = msg
        self.fds = fds
        self.slot: Slot | None = None
        self.t0 = 0.0
        timeout = msg.get("timeout")
        self.deadline = None if timeout is None else float(timeout)
        self.error: dict | None = None
        self.timed_out = False
        self.cancelled = False
        self.cpu0: int | None = None
        self.oom0 = 0

    def close_fds(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


class Slot:
    def __init__(self, index: int, cg: SlotCgroup | None) -> None:
        self.index = index
        self.cg = cg
        self.state = "idle"
        self.pid = 0
        self.pidfd = -1
        self.sock: _socket.socket | None = None
        self.ready_cpu = 0.0
        self.run: Run | None = None
        self.error: dict | None = None
        self.held: list[int] = []  # its mount namespace, released once the result is out
        self.cpu0: int | None = None  # the cgroup's counters when its sandbox was ready
        self.oom0 = 0


class Loop:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.t = server.template
        self.slots = [Slot(i, server.slot_cgroups[i] if server.slot_cgroups else None)
                      for i in range(server.size)]
        self.warm = min(server.size, server.config.get("warm") or DEFAULT_WARM)
        self.queue: list[Run] = []
        self.poll = select.poll()
        self.handlers: dict[int, object] = {}
        self.open = True
        self.idle_refill = False  # warm sandboxes to clone when there is nothing else to do

    # -- poll bookkeeping ------------------------------------------------------
    def watch(self, fd: int, handler) -> None:
        self.handlers[fd] = handler
        self.poll.register(fd, IN)

    def unwatch(self, fd: int) -> None:
        if self.handlers.pop(fd, None) is not None:
            self.poll.unregister(fd)

    # -- slots -----------------------------------------------------------------
    def prepare(self, slot: Slot) -> None:
        """Clone a sandbox for ``slot``: it sets itself up and reports ready."""
        from ..kernel.clone import clone3
        from .child import run as child_run
        from .template import clone_flags

        release(slot)  # the last run's files, still charged to the slot's memory cgroup
        launch = self.t.launch
        parent, child = sync.socketpair()
        cg_fd = slot.cg.clone_fd() if slot.cg is not None else -1
        if slot.cg is not None:
            launch.layout.container = slot.cg.cg.path
        try:
            pid = clone3(clone_flags(launch), cg_fd) if cg_fd >= 0 else None
            if slot.cg is not None:
                launch.cgroup_self_join = slot.cg.join_files(into_v2=pid is not None)
            if pid is None:
                pid = clone3(clone_flags(launch))
            if pid is None:
                raise OSError(1, "clone3 refused")
            if pid == 0:
                parent.close()
                child_run(self.t, child)  # never returns
                os._exit(1)
        finally:
            if cg_fd >= 0:
                os.close(cg_fd)
            child.close()
        slot.pid, slot.sock, slot.state, slot.error = pid, parent, "preparing", None
        slot.pidfd = os.pidfd_open(pid)
        self.watch(parent.fileno(), lambda: self.on_sandbox(slot))
        self.watch(slot.pidfd, lambda: self.on_exit(slot))

    def refill(self) -> None:
        """Keep ``warm`` sandboxes prepared, and one for each waiting run."""
        busy = sum(s.state in ("preparing", "ready") for s in self.slots)
        want = max(self.warm, len(self.queue))
        for slot in self.slots:
            if busy >= want:
                return
            if slot.state == "idle":
                self.prepare(slot)
                busy += 1

    def warm_up(self) -> None:
        """Prepare the warm sandboxes; wait for the first (a bad template fails here)."""
        self.refill()
        first = self.slots[0]
        self.open = False  # no re-preparing of a sandbox that failed here
        while first.state == "preparing":
            self.step(5.0)
        self.open = True
        if first.error is not None:
            wire.raise_error(first.error)
        if first.state != "ready":
            raise OSError(0, "the first sandbox exited before it was ready")

    # -- events ----------------------------------------------------------------
    def on_control(self) -> None:
        msg, fds = wire.recv(self.server.ctl)
        if msg is None:
            for fd in fds:
                os.close(fd)
            self.open = False
            return
        if msg.get("type") != "run" or not fds:
            for fd in fds:
                os.close(fd)
            return
        reply = _socket.socket(fileno=fds[0])
        run = Run(reply, msg, fds[1:])
        self.watch(reply.fileno(), lambda: self.on_cancel(run))
        self.queue.append(run)
        self.dispatch()

    def on_cancel(self, run: Run) -> None:
        """The caller closed its end (gave up, or died): drop or kill the run."""
        self.unwatch(run.reply.fileno())
        run.cancelled = True
        if run in self.queue:
            self.queue.remove(run)
            run.close_fds()
            run.reply.close()
        elif run.slot is not None and run.slot.pid:
            self.kill(run.slot)

    def on_sandbox(self, slot: Slot) -> None:
        assert slot.sock is not None
        try:
            msg, fds = wire.recv(slot.sock)
        except OSError:
            msg, fds = None, []
        if msg is not None and msg.get("type") == "ready" and fds:
            slot.held.extend(fds)
            fds = []
        for fd in fds:
            os.close(fd)
        if msg is None:  # exec'd (its end is close-on-exec), or dead
            self.unwatch(slot.sock.fileno())
            slot.sock.close()
            slot.sock = None
            return
        if msg.get("type") == "ready" and slot.state == "preparing":
            slot.state = "ready"
            slot.ready_cpu = float(msg.get("cpu") or 0.0)
            if slot.cg is not None:  # the run's baselines, read now rather than on its way
                slot.cg.reset_peak()
                slot.cpu0 = slot.cg.cpu_ns()
                slot.oom0 = slot.cg.oom_kills()
            self.dispatch()
        elif msg.get("type") == "error":
            err = wire.from_sandbox(msg)
            if slot.run is not None:
                slot.run.error = err
            else:
                slot.error = err

    def on_exit(self, slot: Slot) -> None:
        _pid, status, usage = os.wait4(slot.pid, 0)
        self.unwatch(slot.pidfd)
        os.close(slot.pidfd)
        slot.pidfd = -1
        if slot.sock is not None:  # an error it sent last is still to be read
            self.on_sandbox(slot)
            if slot.sock is not None:
                self.unwatch(slot.sock.fileno())
                slot.sock.close()
                slot.sock = None
        run, slot.run, slot.pid = slot.run, None, 0
        if slot.cg is not None:
            slot.cg.empty()
        if run is not None:
            self.finish(slot, run, status, usage)
        elif slot.error is not None and self.queue:
            # set-up failed: the first waiting run hears why (no retry loop on a broken template)
            waiting = self.queue.pop(0)
            self.reply(waiting, slot.error)
        slot.state = "idle"
        if self.open:
            self.dispatch()  # a waiting run gets a sandbox now; warming up waits until we are idle
            self.idle_refill = True

    def kill(self, slot: Slot) -> None:
        try:
            _signal.pidfd_send_signal(slot.pidfd, _signal.SIGKILL)  # type: ignore[attr-defined]
        except (AttributeError, OSError):
            try:
                os.kill(slot.pid, _signal.SIGKILL)
            except OSError:
                pass

    # -- runs ------------------------------------------------------------------
    def dispatch(self) -> None:
        while self.queue:
            slot = next((s for s in self.slots if s.state == "ready"), None)
            if slot is None:
                self.refill()
                return
            self.go(slot, self.queue.pop(0))

    def go(self, slot: Slot, run: Run) -> None:
        msg = run.msg
        slot.state, slot.run, run.slot = "running", run, slot
        try:
            if slot.cg is not None:
                self.set_limits(slot.cg, msg.get("limits"))
                run.cpu0, run.oom0 = slot.cpu0, slot.oom0
            env = merge_env(self.t.launch.process.env, msg.get("env") or {})
            assert slot.sock is not None
            sync.send(slot.sock, {"type": "go", "args": list(msg["args"]), "env": env,
                                  "cwd": msg.get("cwd"), "stdio": list(msg["stdio"])}, tuple(run.fds))
        except Exception as e:  # noqa: BLE001 - this run fails, the pool goes on
            run.error = wire.error_message(e)
            self.kill(slot)
        finally:
            run.close_fds()
        run.t0 = time.monotonic()
        if run.deadline is not None:
            run.deadline += run.t0

    def set_limits(self, cg: SlotCgroup, limits: dict | None) -> None:
        if limits == cg.limits:
            return
        t = self.t
        restore = {k: v for k, v in t.resources.items() if k in ("memory", "pids", "cpu")}
        want = dict(UNLIMITED)
        want.update(restore)
        if limits:
            want.update(limits)
        cg.apply(want, t.rootless)
        cg.limits = limits

    def finish(self, slot: Slot, run: Run, status: int, usage) -> None:
        wall = time.monotonic() - run.t0
        if run.cancelled:
            run.reply.close()
            return
        if run.error is not None:
            self.reply(run, run.error)
            return
        out = {"type": "result", "status": status, "wall": wall, "timed_out": run.timed_out,
               "oom": False, "cpu": None, "peak": None}
        if slot.cg is not None:
            cpu = slot.cg.cpu_ns()
            if cpu is not None and run.cpu0 is not None:
                out["cpu"] = (cpu - run.cpu0) / 1e9
            out["peak"] = slot.cg.peak()
            out["oom"] = slot.cg.oom_kills() > run.oom0
        else:
            out["cpu"] = max(0.0, usage.ru_utime + usage.ru_stime - slot.ready_cpu)
        self.reply(run, out)

    def reply(self, run: Run, msg: dict) -> None:
        self.unwatch(run.reply.fileno())
        try:
            wire.send(run.reply, msg)
        except OSError:
            pass  # the caller is gone
        run.reply.close()

    # -- the loop --------------------------------------------------------------
    def timeouts(self) -> float | None:
        now = time.monotonic()
        nearest = None
        for slot in self.slots:
            run = slot.run
            if run is None or run.deadline is None or run.timed_out:
                continue
            if run.deadline <= now:
                run.timed_out = True
                self.kill(slot)
                continue
            left = run.deadline - now
            nearest = left if nearest is None else min(nearest, left)
        return nearest

    def step(self, limit: float | None = None) -> None:
        left = self.timeouts()
        if limit is not None:
            left = limit if left is None else min(left, limit)
        wait = None if left is None else max(0, int(left * 1000) + 1)
        held = next((s for s in self.slots if s.held and s.state == "idle"), None)
        events = self.poll.poll(0 if held is not None or self.idle_refill else wait)
        if not events and self.idle_refill:
            self.idle_refill = False  # idle: the next warm sandbox is cloned now (~1 ms here)
            self.refill()
            return
        if not events and held is not None:
            release(held)  # idle: a finished sandbox's mounts are torn down now
            return
        for fd, _ev in events:
            handler = self.handlers.get(fd)
            if handler is not None:
                handler()  # type: ignore[operator]

    def serve(self) -> None:
        self.watch(self.server.ctl.fileno(), self.on_control)
        while self.open:
            self.step()

    def shutdown(self) -> None:
        """Kill every sandbox and reap it; drop the waiting runs."""
        self.open = False
        for run in self.queue:
            run.close_fds()
            run.reply.close()
        self.queue.clear()
        for slot in self.slots:
            if slot.pid:
                self.kill(slot)
                try:
                    os.waitpid(slot.pid, 0)
                except ChildProcessError:
                    pass
                slot.pid = 0
            if slot.run is not None:
                slot.run.reply.close()
                slot.run = None
            release(slot)


# A run's narrowed limit is lifted again for the next run (v1 and v2 drivers
# read -1 as "max").
UNLIMITED = {"memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1}, "cpu": {"quota": -1, "period": 100000}}


def release(slot: Slot) -> None:
    """Let go of a finished sandbox's mount namespace (its tmpfs and overlay go now)."""
    for fd in slot.held:
        os.close(fd)
    slot.held = []


def merge_env(base: tuple[str, ...], extra: dict[str, str]) -> list[str]:
    if not extra:
        return list(base)
    out = {}
    for kv in base:
        k, _, v = kv.partition("=")
        out[k] = v
    out.update(extra)
    return [f"{k}={v}" for k, v in out.items()]
