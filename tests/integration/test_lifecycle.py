"""Detached containers and their commands: run -d, logs, ps, stop, kill, rm, wait; the supervisor."""

from __future__ import annotations

import os
import time

import pytest

from .leaks import leftovers, processes_with
from .lifecycle import (
    alive,
    cmdline,
    containers,
    entry,
    parent_of,
    ps,
    rss_kib,
    run_d,
    session_of,
    state_of,
    supervisor_of,
    unique,
    wait_for,
)


def test_run_detached_returns_once_running(runner):
    with containers(runner) as made:
        name = unique()
        made.append(name)
        t0 = time.monotonic()
        cid = run_d(runner, "--", "sleep", "1000", name=name)
        assert time.monotonic() - t0 < 20
        st = state_of(runner, cid)
        assert st["status"] == "running" and alive(st["pid"])
        # the supervisor: not our child, its own session, the parent of init, lean
        sup = supervisor_of(runner, cid)
        assert parent_of(sup) != os.getpid() and session_of(sup) != session_of(os.getpid())
        assert parent_of(st["pid"]) == sup
        # (it re-executes itself as the lean supervisor right after reporting the start)
        wait_for(lambda: any(a.endswith("supervise.py") for a in cmdline(sup)), what="the lean supervisor")
        e = entry(runner, name)
        assert e["status"] == "running" and e["pid"] == st["pid"] and e["id"] == cid
        assert e["command"] == ["sleep", "1000"]


def test_supervisor_memory_is_small(runner):
    with containers(runner) as made:
        made.append(unique())
        cid = run_d(runner, "--", "sleep", "1000", name=made[0])
        sup = supervisor_of(runner, cid)
        wait_for(lambda: any(a.endswith("supervise.py") for a in cmdline(sup)), what="the lean supervisor")
        time.sleep(0.2)  # (its start-up is over)
        rss, private = rss_kib(sup)
        # a fresh `python -I -S`: ~8 MiB resident (mostly the shared interpreter), ~3 MiB its own
        assert rss < 14 * 1024 and private < 6 * 1024, (rss, private)


def test_start_errors_leave_nothing(runner, busybox_rootfs):
    name = unique()
    r = runner.run("run", "-d", "--name", name, "--rootfs", busybox_rootfs, "--", "no-such-command")
    assert r.returncode == 127, r.stderr
    assert r.stderr == "nsbox: exec `no-such-command`: executable file not found in $PATH\n"
    assert r.stdout == ""
    r = runner.run("run", "-d", "--name", name, "--rootfs", "/nonexistent-root", "--", "true")
    assert r.returncode == 125 and r.stderr.startswith("nsbox: ") and "Traceback" not in r.stderr
    assert leftovers(runner.root) == {}
    assert entry(runner, name) is None
    with containers(runner) as made:  # the name is free again
        made.append(name)
        run_d(runner, "--", "true", name=name)


def test_logs(runner):
    with containers(runner) as made:
        made.append(unique())
        run_d(runner, "--", "sh", "-c", "echo out; echo err >&2; echo last", name=made[0])
        assert runner.run("wait", made[0]).returncode == 0
        r = runner.run("logs", made[0], check=True)
        assert r.stdout == "out\nerr\nlast\n"
        assert runner.run("logs", "--tail", "1", made[0], check=True).stdout == "last\n"
        assert runner.run("logs", "-n", "0", made[0], check=True).stdout == ""


def test_logs_follow_until_exit(runner):
    with containers(runner) as made:
        made.append(unique())
        run_d(runner, "--", "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.3; done", name=made[0])
        t0 = time.monotonic()
        r = runner.run("logs", "-f", made[0], check=True, timeout=30)
        assert r.stdout == "line1\nline2\nline3\n"
        assert time.monotonic() - t0 > 0.3


def test_logs_of_a_tty_container(runner):
    with containers(runner) as made:
        made.append(unique())
        run_d(runner, "-t", "--", "sh", "-c", "tty; echo done", name=made[0])
        runner.run("wait", made[0])
        out = runner.run("logs", made[0], check=True).stdout
        assert "/dev/pts/0" in out and "done" in out


def test_ps_table_json_quiet_all(runner):
    with containers(runner) as made:
        up, down = unique("up"), unique("down")
        made += [up, down]
        cid_up = run_d(runner, "--", "sleep", "1000", name=up)
        cid_down = run_d(runner, "--", "sh", "-c", "exit 3", name=down)
        runner.run("wait", down)
        lines = runner.run("ps", check=True).stdout.splitlines()
        assert lines[0].split() == ["ID", "NAME", "PID", "STATUS", "COMMAND", "CREATED"]
        row = next(line for line in lines if up in line)
        assert row.startswith(cid_up[:12]) and " Up " in row and "sleep 1000" in row
        assert not any(down in line for line in lines)
        all_lines = runner.run("ls", "-a", check=True).stdout.splitlines()
        row = next(line for line in all_lines if down in line)
        assert "Exited (3)" in row
        quiet = runner.run("ps", "-q", check=True).stdout.split()
        assert cid_up[:12] in quiet and cid_down[:12] not in quiet
        assert cid_down[:12] in runner.run("ps", "-aq", check=True).stdout.split()
        assert cid_down in runner.run("ps", "-aq", "--no-trunc", check=True).stdout.split()
        by_name = {e["name"]: e for e in ps(runner, "-a")}
        assert by_name[down]["status"] == "stopped" and by_name[down]["exitCode"] == 3
        assert by_name[up]["status"] == "running" and by_name[up]["pid"] > 0
        r = runner.run("ps", "--format", "yaml")
        assert r.returncode == 2 and "expected table or json" in r.stderr


def test_stop(runner):
    with containers(runner) as made:
        stubborn, polite = unique("stubborn"), unique("polite")
        made += [stubborn, polite]
        run_d(runner, "--", "sleep", "1000", name=stubborn)  # PID 1 without a handler ignores SIGTERM
        run_d(runner, "--init", "--", "sleep", "1000", name=polite)
        t0 = time.monotonic()
        r = runner.run("stop", "-t", "1", stubborn, check=True)
        took = time.monotonic() - t0
        assert r.stdout == f"{stubborn}\n" and 1.0 <= took < 15, took
        e = entry(runner, stubborn)
        assert e["status"] == "stopped" and e["exitCode"] == 137
        t0 = time.monotonic()
        runner.run("stop", polite, check=True)
        assert time.monotonic() - t0 < 8
        assert entry(runner, polite)["exitCode"] == 143
        assert runner.run("stop", polite).returncode == 0  # already stopped: fine
        r = runner.run("stop", "-t", "soon", polite)
        assert r.returncode == 2 and "-t `soon`" in r.stderr


def test_kill_signals_by_name_and_number(runner):
    script = 'trap "echo got-usr1" USR1; trap "exit 5" TERM; echo ready; while :; do sleep 0.05; done'
    with containers(runner) as made:
        made.append(unique())
        run_d(runner, "--", "sh", "-c", script, name=made[0])
        wait_for(lambda: "ready" in runner.run("logs", made[0]).stdout, what="ready")
        assert runner.run("kill", "-s", "USR1", made[0], check=True).stdout == f"{made[0]}\n"
        wait_for(lambda: "got-usr1" in runner.run("logs", made[0]).stdout, what="USR1 delivered")
        runner.run("kill", "--signal", "SIGUSR1", made[0], check=True)
        runner.run("kill", "-s", "15", made[0], check=True)
        assert runner.run("wait", made[0]).returncode == 5
        r = runner.run("kill", made[0])
        assert r.returncode == 1 and r.stderr == f"nsbox: kill `{made[0]}`: container is not running\n"
        r = runner.run("kill", "-s", "NOPE", made[0])
        assert r.returncode == 1 and "signal `NOPE`: unknown signal" in r.stderr


def test_kill_default_is_sigkill(runner):
    with containers(runner) as made:
        made.append(unique())
        run_d(runner, "--", "sleep", "1000", name=made[0])
        runner.run("kill", made[0], check=True)
        assert runner.run("wait", made[0]).stdout == "137\n"


def test_rm(runner):
    with containers(runner) as made:
        a, b = unique("a"), unique("b")
        made += [a, b]
        cid = run_d(runner, "--", "sleep", "1000", name=a)
        pid = state_of(runner, cid)["pid"]
        r = runner.run("rm", a)
        assert r.returncode == 1
        assert r.stderr == f"nsbox: rm `{a}`: container is running (stop it first, or use rm -f)\n"
        assert alive(pid)
        assert runner.run("rm", "-f", a, check=True).stdout == f"{a}\n"
        assert not alive(pid) and entry(runner, a) is None
        run_d(runner, "--", "true", name=b)
        runner.run("wait", b)
        r = runner.run("rm", b, "no-such-container")
        assert r.returncode == 1 and r.stdout == f"{b}\n"
        assert r.stderr == "nsbox: no such container: `no-such-container`\n"
        assert leftovers(runner.root) == {}
        run_d(runner, "--", "true", name=a)  # names are free again
        run_d(runner, "--", "true", name=b)


def test_wait_returns_exit_codes(runner):
    with containers(runner) as made:
        a, b = unique("a"), unique("b")
        made += [a, b]
        run_d(runner, "--", "sh", "-c", "sleep 0.5; exit 3", name=a)
        run_d(runner, "--", "sh", "-c", "exit 4", name=b)
        r = runner.run("wait", a, b, timeout=30)
        assert r.stdout == "3\n4\n" and r.returncode == 4
        r = runner.run("wait", a)  # already stopped
        assert r.stdout == "3\n" and r.returncode == 3


def test_run_detached_rm_removes_and_wait_still_gets_the_code(runner):
    name = unique()
    cid = run_d(runner, "--rm", "--", "sh", "-c", "sleep 0.5; exit 6", name=name)
    r = runner.run("wait", name, timeout=30)
    assert r.stdout == "6\n" and r.returncode == 6
    wait_for(lambda: not os.path.exists(f"{runner.root}/containers/{cid}"), what="--rm removal")
    assert entry(runner, name) is None
    assert leftovers(runner.root) == {}


def test_foreground_container_is_listed_and_waitable(runner):
    name = unique()
    p = runner.popen("run", "--name", name, "--", "sh", "-c", "sleep 1; exit 9")
    try:
        wait_for(lambda: (entry(runner, name) or {}).get("status") == "running", what="running")
        r = runner.run("wait", name, timeout=30)
        assert r.stdout == "9\n"
    finally:
        p.wait(timeout=30)
    assert p.returncode == 9


def test_killed_behind_our_back_shows_stopped(runner):
    with containers(runner) as made:
        made.append(unique())
        cid = run_d(runner, "--", "sleep", "1000", name=made[0])
        os.kill(state_of(runner, cid)["pid"], 9)
        wait_for(lambda: entry(runner, made[0])["status"] == "stopped", what="stopped")
        e = entry(runner, made[0])
        assert e["exitCode"] == 137 and e["pid"] == 0
        assert "Exited (137)" in runner.run("ps", "-a", check=True).stdout
        import json

        assert json.loads(runner.run("inspect", made[0], check=True).stdout)["state"] == "stopped"
        assert runner.run("wait", made[0]).stdout == "137\n"
        assert runner.run("exec", made[0], "true").returncode == 125


def test_sigkill_of_the_supervisor(runner):
    marker = f"{1000 + os.getpid() % 1000}.{time.monotonic_ns() % 10**6}"
    with containers(runner) as made:
        made.append(unique())
        cid = run_d(runner, "--", "sleep", marker, name=made[0])
        pid = state_of(runner, cid)["pid"]
        os.kill(supervisor_of(runner, cid), 9)
        wait_for(lambda: not alive(pid), what="the container dying with its supervisor")
        assert processes_with(f"sleep {marker}") == []
        e = entry(runner, made[0])  # the next command collects it
        assert e["status"] == "stopped" and e["exitCode"] == 137
        assert state_of(runner, cid)["resources"] == []
        assert "supervisor died" in state_of(runner, cid)["exitReason"]
        left = leftovers(runner.root)
        assert set(left) <= {"state dirs"}, left  # only the stopped container's directory
        runner.run("rm", made[0], check=True)
    assert leftovers(runner.root) == {}


def test_sigkill_of_a_detached_rm_supervisor_leaves_nothing(runner):
    cid = run_d(runner, "--rm", "--", "sleep", "1000")
    pid = state_of(runner, cid)["pid"]
    os.kill(supervisor_of(runner, cid), 9)
    wait_for(lambda: not alive(pid), what="init dying")
    runner.run("ps", "-a", check=True)
    assert leftovers(runner.root) == {}


@pytest.mark.root
def test_state_directories_are_private(root_runner):
    with containers(root_runner) as made:
        made.append(unique())
        cid = run_d(root_runner, "--", "sleep", "100", name=made[0])
        for d in (root_runner.root, f"{root_runner.root}/containers", f"{root_runner.root}/names",
                  f"{root_runner.root}/containers/{cid}"):
            assert os.stat(d).st_mode & 0o777 == 0o700, d
        for f in ("state.json", "config.json", "container.log", "lock", "owner.lock"):
            assert os.stat(f"{root_runner.root}/containers/{cid}/{f}").st_mode & 0o077 == 0, f
