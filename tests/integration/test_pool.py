"""nsbox.Pool (issue 12): isolation between runs, concurrency, faults, bad input.

Each test runs a scenario of poolscenarios.py in a process of the user under
test (root, or the rootless test user) and checks its JSON report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ..conftest import CGROUP_PARENT

SCRIPT = str(Path(__file__).with_name("poolscenarios.py"))


def argv(runner, *args: str) -> list[str]:
    python = str(Path(runner.nsbox).parent / "python")
    if runner.user is None:
        return [python, SCRIPT, *args]
    return runner.argv()[:-1] + [python, SCRIPT, *args]


def scenario(runner, name: str, timeout: float = 120, **env: str) -> dict:
    r = subprocess.run(argv(runner, name), capture_output=True, text=True, timeout=timeout,
                       env={**runner.env(), **env}, cwd="/")
    assert r.returncode == 0, f"scenario {name} failed:\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def pool_dirs(root: str) -> list[str]:
    try:
        return sorted(os.listdir(f"{root}/pools"))
    except FileNotFoundError:
        return []


def pool_cgroups() -> list[str]:
    return [str(d) for base in Path("/sys/fs/cgroup").glob("*" + CGROUP_PARENT)
            for d in base.glob("pool-*")]


def test_next_run_sees_nothing_of_the_last(runner):
    out = scenario(runner, "isolation")
    assert out["first_rc"] == 0, out
    first = out["first"]
    assert "dd=1" in first and "shm=1 msg=1" in first, out  # /tmp filled; SysV objects made
    assert "host=dirty-run" in first, out
    second = out["second"].split()
    assert "marker" not in second and "tmpmarker" not in second and "fill" not in second, out
    assert "host=dirty-run" not in second, out
    assert "shm=0" in second and "msg=0" in second, out
    assert "bound" in second and "locked" in second, out
    assert "used=0" in second, out
    # ps, sh, ls, grep at most (the first run's sleeps, python and flock are gone)
    procs = int(next(x for x in second if x.startswith("procs=")).split("=")[1])
    assert procs <= 4, out
    assert out["leftover"] == 0, out


def test_threads_and_tasks_share_a_pool(runner):
    out = scenario(runner, "concurrency", timeout=300)
    assert out["bad"] == [] and out["done"] == 90, out


def test_cancelled_task_kills_its_run(runner):
    out = scenario(runner, "cancel")
    assert out["cancelled"] and out["next"] == "next\n" and out["next_s"] < 3, out
    assert out["leftover"] == 0, out


def test_init_killed_affects_no_later_run(runner):
    out = scenario(runner, "init_killed")
    assert out["signal"] in (signal.SIGABRT, signal.SIGSEGV), out
    assert out["rc"] == 128 + out["signal"] and out["reason"] == "signalled", out
    assert out["after"] == "ok\n", out


def test_timeout_kills_the_run_only(runner):
    out = scenario(runner, "timeout")
    reason, took = out["slow"]
    assert reason == "timed-out" and took < 5, out
    assert out["quick"][0] == "quick\n" and out["quick"][1] < 2, out
    assert out["after"] == "ok\n" and out["leftover"] == 0, out


@pytest.mark.root
def test_pids_exhausted_affects_no_later_run(root_runner):
    out = scenario(root_runner, "pids")
    assert out["reason"] == "exited", out  # forks failed, the shell's wait returned
    assert out["after"] == "ok\n" and out["after_s"] < 3, out


@pytest.mark.root
def test_memory_exhausted_affects_no_later_run(root_runner):
    out = scenario(root_runner, "memory")
    assert out["reason"] == "oom-killed" and out["rc"] == 137, out
    assert out["after"] == "ok\n", out
    assert out["narrow"] == "oom-killed", out  # a run narrowed the limit for itself...
    assert out["again"] == "ok\n", out          # ...and the next run has the pool's again
    assert out["peak"] and out["peak"] > 24 << 20, out
    assert out["fill"] == "0\n" and out["big"] == "ok\n", out


def test_server_killed_raises_pool_closed(runner):
    out = scenario(runner, "server_killed")
    assert out["pending"].startswith("PoolClosed") and "died" in out["pending"], out
    assert out["pending_s"] < 10, out
    assert out["later"].startswith("PoolClosed"), out
    assert out["leftover"] == 0, out


def test_caller_killed_leaves_nothing(runner):
    p = subprocess.Popen(argv(runner, "caller"), stdout=subprocess.PIPE, text=True, env=runner.env(), cwd="/")
    try:
        server = json.loads(p.stdout.readline())["server"]
        assert pool_dirs(runner.root), "the pool has no state dir"
    finally:
        p.kill()
        p.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_alive(server) or _sleepers("sleep 4747")):
        time.sleep(0.1)
    assert not _alive(server) and not _sleepers("sleep 4747")
    runner.run("ps", "-a", check=True)  # any nsbox command collects what is left
    assert pool_dirs(runner.root) == []
    if runner.user is None:
        assert pool_cgroups() == []


@pytest.mark.root
def test_image_template(root_runner, shared_tmp):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import imagebuild as IB

    lay = IB.Layout(f"{shared_tmp}/layout")
    lay.image([IB.busybox_layer()], config={"Cmd": ["/bin/sh"], "Env": ["FROM_IMAGE=yes", "PATH=/bin"]},
              name="example.test/pool:1")
    lay.write()
    store = f"{shared_tmp}/storage"
    root_runner.run("--storage", store, "load", "-i", f"{shared_tmp}/layout", check=True)
    out = scenario(root_runner, "image", POOL_STORAGE=store)
    assert out == {"first": "yes\n/f\n", "second_rc": 1}, out


@pytest.mark.rootless
def test_rootless_limits_without_a_cgroup_are_warnings(rootless_runner):
    out = scenario(rootless_runner, "rootless_limits")
    assert len(out["caught"]) == 1 and out["caught"][0].startswith("LimitWarning: memory"), out
    assert out["result"] and out["result"][0].startswith("memory"), out
    assert out["strict"].startswith("limits memory: cannot be applied"), out


def test_bad_values_raise_config_error_naming_them(runner):
    out = scenario(runner, "config")
    assert out["memory"].startswith("ConfigError: memory `lots`: "), out
    assert out["network"].startswith("ConfigError: network `bridge`: "), out
    assert out["unknown"] == "TypeError: nsbox.Pool() got an unexpected keyword argument 'colour'", out
    assert out["size"].startswith("ConfigError: size `0`") and "detach" in out["detach"], out
    assert out["wider"].startswith("memory `'1g'`: wider") and "narrow" in out["wider"], out
    assert out["argv"].startswith("pool.run: argv `[]`"), out
    assert out["timeout"].startswith("timeout `-1`") and out["cwd"].startswith("cwd `'rel'`"), out
    assert out["env"].startswith("env `"), out
    assert out["ok"] == "/tmp\nb\n", out
    assert out["exec"].startswith("ExecError") and "no-such-command" in out["exec"], out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _sleepers(args: str) -> list[str]:
    r = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True)
    return [x for x in r.stdout.splitlines() if x.startswith(args)]


def test_an_oversized_request_or_a_closed_fd_is_a_config_error(runner):
    out = scenario(runner, "oversized")
    assert out["argv"][0] == "ConfigError" and "pool.run: the request" in out["argv"][1], out
    assert out["stdin"][:2] == ["ConfigError", f"stdin `{out['stdin'][1].split('`')[1]}`: Bad file descriptor"], out
    assert out["stdout"][0] == "ConfigError" and out["stdout"][1].startswith("stdout `"), out
    assert all(out[k][-1] < 1.5 for k in ("argv", "stdin", "stdout")), out  # no wait for a "dead" server
    assert out["after"] == "ok\n", out
