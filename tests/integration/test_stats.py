"""nsbox stats on a running container (a foreground run in the background of the test)."""

from __future__ import annotations

import json
import signal
import time
import uuid

import pytest

MiB = 1 << 20
STOP_ON_TERM = "trap 'exit 0' TERM; sleep 30 & wait"  # PID 1 ignores SIGTERM unless it traps it


def stop(p) -> None:
    """End the foreground run cleanly (nsbox forwards SIGTERM), so it removes everything itself."""
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=10)
    except Exception:  # noqa: BLE001
        p.kill()
        p.wait(timeout=10)
        raise


def wait_running(runner, name: str, timeout: float = 10) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = runner.run("stats", "--no-stream", "--format", "json", name)
        if r.returncode == 0 and r.stdout.strip():
            row = json.loads(r.stdout.splitlines()[0])
            if row["PIDs"] != "--":
                return row
        time.sleep(0.1)
    raise AssertionError(f"container {name} never showed up in nsbox stats")


@pytest.mark.root
def test_stats_shows_memory_rising(root_runner):
    name = f"statsmem-{uuid.uuid4().hex[:6]}"
    go = "/tmp/go"  # inside the container (its own tmpfs): the test says when to allocate
    p = root_runner.popen("run", "--name", name, "--memory", "512m", "--tmpfs", "/t", "--", "sh", "-c",
                          f"while [ ! -e {go} ]; do sleep 0.1; done; "
                          "dd if=/dev/zero of=/t/f bs=1M count=150 2>/dev/null; echo allocated; "
                          f"{STOP_ON_TERM}",
                          text=True)
    try:
        before = wait_running(root_runner, name)
        assert before["Name"] == name and before["raw"]["memory_limit"] == 512 * MiB
        cid = root_runner.run("stats", "--no-stream", "--format", "{{.ID}}", "--no-trunc", name).stdout.strip()
        assert len(cid) == 64
        # tell it to allocate: create the go file through the container's root
        init = _init_pid(root_runner, name)
        open(f"/proc/{init}/root{go}", "w").close()
        assert p.stdout.readline().strip() == "allocated"
        after = json.loads(root_runner.run("stats", "--no-stream", "--format", "json", name).stdout)
        rise = after["raw"]["memory_usage"] - before["raw"]["memory_usage"]
        assert rise >= 140 * MiB, (before, after)
        assert after["MemUsage"].endswith(" / 512MiB") and after["MemPerc"].endswith("%")
        # the table: Docker's header and a row for the container
        t = root_runner.run("stats", "--no-stream", name).stdout.splitlines()
        assert t[0].startswith("CONTAINER ID") and "MEM USAGE / LIMIT" in t[0] and t[0].endswith("PIDS")
        assert name in t[1] and "MiB / 512MiB" in t[1]
    finally:
        stop(p)


def _init_pid(runner, name: str) -> int:
    import glob

    for path in glob.glob(f"{runner.root}/containers/*/state.json"):
        with open(path) as f:
            st = json.load(f)
        if st.get("name") == name:
            return int(st["pid"])
    raise AssertionError(f"no state for {name}")


@pytest.mark.root
def test_stats_streams_and_cpu_percent(root_runner):
    name = f"statscpu-{uuid.uuid4().hex[:6]}"
    p = root_runner.popen("run", "--name", name, "--cpus", "0.5", "--", "sh", "-c",
                          "trap 'exit 0' TERM; while :; do :; done", text=True)
    try:
        wait_running(root_runner, name)
        s = root_runner.popen("stats", "--format", "json", name, text=True)
        time.sleep(3.2)
        s.send_signal(signal.SIGINT)
        out, _ = s.communicate(timeout=10)
        rows = [json.loads(ln) for ln in out.splitlines() if ln.strip()]
        assert len(rows) >= 2  # refreshed, not printed once
        cpu = [r["raw"]["cpu_percent"] for r in rows if r["raw"]["cpu_percent"] is not None]
        assert cpu and 25 < max(cpu) < 75  # a busy loop held to half a CPU by --cpus 0.5
        assert s.returncode == 0
    finally:
        stop(p)


@pytest.mark.root
def test_stats_unknown_container_is_an_error(root_runner):
    r = root_runner.run("stats", "--no-stream", "no-such-container-xyz")
    assert r.returncode == 1 and r.stderr.strip() == "nsbox: no such container: `no-such-container-xyz`"


@pytest.mark.rootless
def test_stats_rootless_lists_its_container(rootless_runner):
    name = f"statsrl-{uuid.uuid4().hex[:6]}"
    p = rootless_runner.popen("run", "--name", name, "--", "sh", "-c", STOP_ON_TERM, text=True)
    try:
        row = wait_running(rootless_runner, name)
        assert row["Name"] == name and int(row["PIDs"]) == 2  # sh (PID 1 of its namespace) and its sleep
    finally:
        stop(p)
