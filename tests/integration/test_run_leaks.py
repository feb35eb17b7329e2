"""Nothing is left behind: after failures, and after SIGKILL of nsbox at any moment of start-up."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from .leaks import leftovers, processes_with


def _marker() -> str:
    return f"{12345 + os.getpid() % 1000}.{time.monotonic_ns() % 100000}"


def _killed_at(runner, delay: float, marker: str) -> None:
    p = runner.popen("run", "--", "sleep", marker)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)


DELAYS = [0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05, 0.06, 0.07, 0.08, 0.1,
          0.12, 0.15, 0.2, 0.3, 0.5]


def test_sigkill_at_every_moment_of_start_up(runner):
    markers = []
    for delay in DELAYS:
        marker = _marker()
        markers.append(marker)
        _killed_at(runner, delay, marker)
        # the container dies with its supervisor (parent death signal) ...
        end = time.monotonic() + 5
        while processes_with(f"sleep {marker}") and time.monotonic() < end:
            time.sleep(0.02)
        assert processes_with(f"sleep {marker}") == [], f"container survived SIGKILL at {delay}s"
    # ... and the next nsbox command collects what it held
    runner.run("run", "--", "true", check=True)
    left = leftovers(runner.root)
    assert left == {}, left


def test_failed_starts_leave_nothing(runner, busybox_rootfs):
    cases = [
        ["--rootfs", busybox_rootfs, "--", "no-such-cmd"],
        ["--rootfs", busybox_rootfs, "-v", "/nonexistent:/x", "--", "true"],
        ["--rootfs", busybox_rootfs, "--", "/etc/passwd"],
        ["--uidmap", "0:1:0", "--", "true"],
        ["--ns", "net=/proc/1/ns/nonexistent", "--", "true"],
        ["--time-offset", "boottime=abc", "--", "true"],
    ]
    for args in cases:
        r = runner.run("run", *args)
        assert r.returncode in (125, 126, 127), (args, r.stderr)
        assert r.stderr.startswith("nsbox: ") and "Traceback" not in r.stderr
        assert leftovers(runner.root) == {}, args


@pytest.mark.root
def test_no_cgroup_left_after_runs(root_runner):
    from ..conftest import CGROUP_PARENT
    from .leaks import cgroup_dirs

    root_runner.run("run", "--", "true", check=True)
    root_runner.run("run", "--", "sh", "-c", "sleep 0.2 & exit 3")
    assert cgroup_dirs(CGROUP_PARENT) == []
    assert not any(os.path.exists(f"/sys/fs/cgroup/{h}{CGROUP_PARENT}") for h in ("memory", "pids", "cpu"))


@pytest.mark.root
def test_state_dir_is_private(root_runner):
    p = root_runner.popen("run", "--", "sleep", "5")
    try:
        end = time.monotonic() + 10
        while not os.listdir(f"{root_runner.root}/containers") if os.path.isdir(
                f"{root_runner.root}/containers") else True:
            assert time.monotonic() < end
            time.sleep(0.02)
        for d in (root_runner.root, f"{root_runner.root}/containers"):
            assert os.stat(d).st_mode & 0o777 == 0o700, d
        cid = os.listdir(f"{root_runner.root}/containers")[0]
        assert os.stat(f"{root_runner.root}/containers/{cid}").st_mode & 0o777 == 0o700
    finally:
        p.kill()
        p.wait()
    subprocess.run(root_runner.argv("run", "--", "true"), env=root_runner.env())
