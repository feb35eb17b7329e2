"""Resource limits on real containers: the cgroup driver of this machine (v1/hybrid here),
OOM reporting, the pids limit against a fork bomb, rootless behaviour, the cgroup view
inside, and nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import CGROUP_PARENT

PY = "/usr/bin/python3"  # the host's, visible in the default root (host /usr read-only)
HOG = "a = b'x' * (200 << 20); print('survived')"


def layout():
    from nsbox.cgroups.detect import detect

    return detect()


def hier(controller: str) -> str:
    h = layout().controller(controller)
    assert h is not None, f"no {controller} hierarchy on this machine"
    return h.mountpoint


def block_device() -> str | None:
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "zram", "ram")) and os.path.exists(f"/dev/{name}"):
            return f"/dev/{name}"
    return None


@pytest.mark.root
def test_memory_limit_oom_killed_and_reported(root_runner):
    r = root_runner.run("run", "--memory", "32m", "--", PY, "-c", HOG, timeout=60)
    assert r.returncode == 137, r.stderr
    assert "survived" not in r.stdout
    lines = [ln for ln in r.stderr.splitlines() if "OOM-killed" in ln]
    assert len(lines) == 1 and "memory limit 32MiB reached" in lines[0], r.stderr


@pytest.mark.root
def test_oom_kill_of_a_child_is_reported_but_not_the_exit(root_runner):
    r = root_runner.run("run", "--memory", "32m", "--", "sh", "-c", f'{PY} -c "{HOG}"; echo child=$?')
    assert r.returncode == 0 and "child=137" in r.stdout
    assert "OOM killer killed 1 process" in r.stderr, r.stderr


@pytest.mark.root
def test_under_the_limit_nothing_is_reported(root_runner):
    r = root_runner.run("run", "--memory", "256m", "--", PY, "-c", "a = b'x' * (20 << 20); print('ok')")
    assert r.returncode == 0 and r.stdout.strip() == "ok" and "OOM" not in r.stderr


@pytest.mark.root
def test_exit_reason_recorded_in_state(root_runner, tmp_path):
    """A kept container (not auto-removed) records exitReason for ps/inspect."""
    script = f"""
import json, os, sys
from nsbox.runtime import state as S
from nsbox.runtime.create import create, start
from nsbox.runtime.run import prepare, wait_exit, finish
from nsbox.specgen.options import RunOptions
store = S.Store({str(tmp_path)!r}); store.ensure()
c = prepare(RunOptions(command=({PY!r}, "-c", {HOG!r}), memory="32m"), store, detached=False, auto_remove=False)
create(c, c.launch.linux.cgroups_path); start(c)
finish(c, wait_exit(c.pid))
print(json.dumps(S.Store({str(tmp_path)!r}).lookup(c.container.id).read()))
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                       env=root_runner.env())
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout.strip().splitlines()[-1])
    assert st["status"] == "stopped" and st["exitCode"] == 137
    assert st["exitReason"] == "oom-killed" and st["oomKilled"] is True


@pytest.mark.root
def test_fork_bomb_stops_at_the_pids_limit(root_runner):
    # the bomb runs for two seconds beside a sleeping reader, then init reads the counters
    bomb = ('sleep 2 & S=$!; (b() { b | b & }; b) 2>/dev/null & wait $S; '
            'read m < /sys/fs/cgroup/pids/pids.max; echo max=$m; '
            'while read k v; do echo event_$k=$v; done < /sys/fs/cgroup/pids/pids.events; '
            'if [ -e /sys/fs/cgroup/pids/pids.peak ]; then read p < /sys/fs/cgroup/pids/pids.peak; echo peak=$p; fi')
    t0 = time.monotonic()
    r = root_runner.run("run", "--pids-limit", "30", "--", "sh", "-c", bomb, timeout=60)
    assert r.returncode == 0, r.stderr
    out = dict(ln.split("=", 1) for ln in r.stdout.split())
    assert out["max"] == "30"
    assert int(out["event_max"]) > 0  # forks were refused at the limit
    if "peak" in out:
        assert int(out["peak"]) <= 30
    # the host is still usable, promptly
    h = subprocess.run(["sh", "-c", "echo ok"], capture_output=True, text=True, timeout=10)
    assert h.stdout == "ok\n" and time.monotonic() - t0 < 30


@pytest.mark.root
def test_v1_driver_files_seen_from_host_and_inside(root_runner):
    """cpu quota, shares, cpuset, memory, pids, blkio throttle: in the files, on both sides."""
    parent = CGROUP_PARENT + "-files"
    dev = block_device()
    args = ["run", "--cgroup-parent", parent, "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0",
            "--memory", "64m", "--memory-reservation", "32m", "--memory-swap", "96m", "--pids-limit", "50"]
    if dev:
        args += ["--device-read-bps", f"{dev}:1mb", "--device-write-iops", f"{dev}:100"]
    inside = ("for f in cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares cpuset/cpuset.cpus "
              "memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes memory/memory.memsw.limit_in_bytes "
              "pids/pids.max blkio/blkio.throttle.read_bps_device blkio/blkio.throttle.write_iops_device; "
              "do echo \"$f=$(cat /sys/fs/cgroup/$f)\"; done; sleep 0.5")
    p = root_runner.popen(*args, "--", "sh", "-c", inside, text=True)
    try:
        host_dir = None
        end = time.monotonic() + 10
        while host_dir is None and time.monotonic() < end:
            base = hier("cpu") + parent
            kids = [d for d in os.listdir(base)] if os.path.isdir(base) else []
            kids = [d for d in kids if os.path.isdir(f"{base}/{d}")]
            if kids:
                host_dir = f"{base}/{kids[0]}"
            else:
                time.sleep(0.02)
        assert host_dir is not None, "the container's cgroup never appeared under --cgroup-parent"
        quota = ""
        while quota != "50000" and time.monotonic() < end:  # written right after the mkdir
            with open(f"{host_dir}/cpu.cfs_quota_us") as f:
                quota = f.read().strip()
            time.sleep(0.01)
        assert quota == "50000"
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:  # a failed assertion: let it end by itself (it sleeps 0.5 s) and clean up
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    assert p.returncode == 0, err
    got = dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)
    assert got["cpu/cpu.cfs_quota_us"] == "50000" and got["cpu/cpu.cfs_period_us"] == "100000"
    assert got["cpu/cpu.shares"] == "512" and got["cpuset/cpuset.cpus"] == "0"
    assert got["memory/memory.limit_in_bytes"] == str(64 << 20)
    assert got["memory/memory.soft_limit_in_bytes"] == str(32 << 20)
    assert got["memory/memory.memsw.limit_in_bytes"] in (str(96 << 20), "")  # "" without swap accounting
    assert got["pids/pids.max"] == "50"
    if dev:
        st = os.stat(dev)
        mm = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        assert got["blkio/blkio.throttle.read_bps_device"] == f"{mm} 1048576"
        assert got["blkio/blkio.throttle.write_iops_device"] == f"{mm} 100"
    # removed with the container, parent included
    assert not os.path.exists(hier("cpu") + parent)


@pytest.mark.root
def test_unsupported_limit_warns_or_fails_when_strict(root_runner):
    """blkio.weight needs CFQ/BFQ group scheduling: applied where the file exists, else reported."""
    r = root_runner.run("run", "--blkio-weight", "300", "--", "sh", "-c",
                        "ls /sys/fs/cgroup/blkio; echo ---; cat /sys/fs/cgroup/blkio/blkio.weight "
                        "/sys/fs/cgroup/blkio/blkio.bfq.weight 2>/dev/null; true")
    assert r.returncode == 0, r.stderr
    listing, _, values = r.stdout.partition("---")
    if {"blkio.weight", "blkio.bfq.weight"} & set(listing.split()):
        assert "300" in values.split() and "warning" not in r.stderr
        return
    warn = [ln for ln in r.stderr.splitlines() if ln.startswith("nsbox: warning: --blkio-weight")]
    assert len(warn) == 1 and "not applied" in warn[0], r.stderr
    s = root_runner.run("run", "--strict-limits", "--blkio-weight", "300", "--", "true")
    assert s.returncode == 125
    assert s.stderr.startswith("nsbox: limits --blkio-weight: cannot be applied") and "--strict-limits" in s.stderr


@pytest.mark.rootless
def test_rootless_limits_warn_or_apply(rootless_runner):
    mode = layout().mode
    r = rootless_runner.run("run", "--memory", "64m", "--pids-limit", "20", "--", "true")
    assert r.returncode == 0, r.stderr
    s = rootless_runner.run("run", "--strict-limits", "--memory", "64m", "--pids-limit", "20", "--", "true")
    if mode != "v2":
        # cgroup v1 is never delegated: one clear line, and a refusal when strict
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("nsbox: warning: --memory, --pids-limit: "
                                                                  "not applied: "), r.stderr
        assert "cgroup v1" in r.stderr
        assert s.returncode == 125 and "--strict-limits" in s.stderr
    else:
        assert s.returncode in (0, 125)
        if s.returncode == 0:  # a delegated subtree: the limit is really there
            t = rootless_runner.run("run", "--pids-limit", "20", "--", "cat", "/sys/fs/cgroup/pids.max", check=True)
            assert t.stdout.strip() == "20"


@pytest.mark.root
def test_bad_values_are_one_line_errors(root_runner):
    for args, what in ((["--memory", "lots"], "--memory `lots`"), (["--cpus", "99"], "--cpus `99`"),
                       (["--cpuset-cpus", "63"], "--cpuset-cpus `63`"),
                       (["--cgroup-parent", "/process_api/x"], "process_api"),
                       (["--device-read-bps", "/dev/null:1mb"], "not a block device")):
        r = root_runner.run("run", *args, "--", "true")
        assert r.returncode == 125, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("nsbox: ") and what in r.stderr, r.stderr
        assert "Traceback" not in r.stderr


@pytest.mark.root
def test_cgroup_view_inside_is_own_subtree_and_read_only(root_runner):
    r = root_runner.run("run", "--memory", "64m", "--", "sh", "-c",
                        "cat /proc/self/cgroup; ls /sys/fs/cgroup/memory; echo ---; "
                        "mkdir /sys/fs/cgroup/memory/x 2>&1; echo > /sys/fs/cgroup/memory/memory.limit_in_bytes "
                        "2>&1; cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
    assert r.returncode == 0, r.stderr
    head, _, tail = r.stdout.partition("---")
    assert all(ln.split(":", 2)[2] == "/" for ln in head.splitlines() if ln.count(":") >= 2)
    entries = head.split()
    assert "process_api" not in entries and "nsbox" not in entries and "memory.limit_in_bytes" in entries
    assert "Read-only file system" in tail and str(64 << 20) in tail


@pytest.mark.rootless
def test_rootless_cgroup_view_binds_only_its_own_cgroup(rootless_runner):
    """Without a cgroup namespace mount of its own (v1 in a user namespace), the bind
    fallback shows the container's own cgroup directory, never the host hierarchy's root
    (when the container is below it), read-only."""
    own = dict(ln.split(":", 2)[1:] for ln in open("/proc/self/cgroup").read().splitlines())
    r = rootless_runner.run("run", "--", "sh", "-c",
                            "ls /sys/fs/cgroup/memory; touch /sys/fs/cgroup/memory/x 2>/dev/null && echo WRITABLE")
    assert "WRITABLE" not in r.stdout
    entries = r.stdout.split()
    if own.get("memory", "/") != "/" and layout().mode != "v2":
        # we run in a memory cgroup below the root: the root's other children stay hidden
        assert entries and "process_api" not in entries and not any(e.startswith("nsbox") for e in entries), entries


@pytest.mark.root
def test_sigkilled_supervisor_cgroup_collected(root_runner):
    parent = CGROUP_PARENT + "-gc"
    p = root_runner.popen("run", "--cgroup-parent", parent, "--memory", "64m", "--", "sleep", "30")
    base = hier("memory") + parent
    end = time.monotonic() + 10
    while not (os.path.isdir(base) and os.listdir(base)) and time.monotonic() < end:
        time.sleep(0.02)
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    root_runner.run("stats", "--no-stream", timeout=30)  # any command collects what the dead left
    end = time.monotonic() + 5
    while os.path.exists(base) and time.monotonic() < end:
        time.sleep(0.05)
    assert not os.path.exists(base)
