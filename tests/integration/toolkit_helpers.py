"""Helpers for the toolkit's integration tests: long-running containers and
processes started by other tools, as the same caller as the runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from contextlib import contextmanager


def caller_argv(runner, *cmd: str) -> list[str]:
    """``cmd`` run as the runner's user (root, or the rootless test user)."""
    base = runner.argv()
    return base[:-1] + list(cmd)


def call(runner, *cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(caller_argv(runner, *cmd), capture_output=True, text=True, timeout=60,
                          env=runner.env(), cwd="/", **kw)


def unique(prefix: str = "tk") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def wait_running(runner, name: str, proc: subprocess.Popen, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    claimed = f"{runner.root}/names/{name}"  # made once owner.lock is held: polling is safe from then on
    while time.monotonic() < deadline:
        if proc.poll() is None and not os.path.islink(claimed):
            time.sleep(0.02)
            continue
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"container {name} exited {proc.returncode}: {err!r}")
        r = runner.run("inspect", "-f", "{{.pid}} {{.state}}", name)
        if r.returncode == 0:
            pid, _, state = r.stdout.strip().partition(" ")
            if state == "running" and int(pid) > 0:
                return int(pid)
        time.sleep(0.05)
    raise AssertionError(f"container {name} did not start: {r.stderr}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for f in (proc.stdout, proc.stderr):
        if f:
            f.close()


@contextmanager
def container(runner, rootfs: str | None, *args: str, cmd: tuple[str, ...] = ("sleep", "120"),
              name: str | None = None):
    """A foreground ``nsbox run`` in the background: yields (name, init pid)."""
    name = name or unique()
    rf = ("--rootfs", rootfs) if rootfs else ()
    p = runner.popen("run", "--name", name, *rf, *args, "--", *cmd, stdin=subprocess.DEVNULL)
    pid = 0
    try:
        pid = wait_running(runner, name, p)
        yield name, pid
    finally:
        if pid and p.poll() is None:
            try:
                os.kill(pid, signal.SIGKILL)  # PID 1 ignores SIGTERM; nsbox run then cleans up
            except ProcessLookupError:
                pass
        stop(p)


def inspect(runner, ref: str) -> dict:
    r = runner.run("inspect", ref, check=True)
    return json.loads(r.stdout)


def wait_for(cond, timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            out += [int(x) for x in f.read().split()]
    return out
