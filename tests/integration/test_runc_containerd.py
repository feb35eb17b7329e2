"""nsbox-runc driven by containerd (Debian's containerd, io.containerd.runc.v2 shim)
through ``ctr --runc-binary``: run, exec, kill, metrics, on a private containerd."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.conftest import IS_ROOT, SESSION
from tests.integration.containerd_helpers import Containerd
from tests.integration.oci_image import write_archive
from tests.integration.runc_helpers import RUNC, cgroup_dirs, unique

pytestmark = pytest.mark.root
IMAGE = "docker.io/library/nsbox-runc-test:latest"
NS = f"nsbox-test-{SESSION}"  # the containerd namespace: its containers' cgroups are /<NS>/<id>


@pytest.fixture(scope="module")
def ctr(busybox_rootfs):
    if not IS_ROOT:
        pytest.skip("needs root")
    if shutil.which("containerd") is None:
        pytest.fail("containerd is not installed (scripts/test installs it)")
    d = f"/tmp/nsbox-runc-containerd-{SESSION}"
    cd = Containerd(d)

    def run(*args, check=False, timeout=60):
        r = subprocess.run(["ctr", "-a", cd.sock, "-n", NS, *args], capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r
    write_archive(busybox_rootfs, f"{d}/image.tar", IMAGE)
    run("images", "import", "--snapshotter", "native", f"{d}/image.tar", check=True)
    yield run
    for cid in run("containers", "ls", "-q").stdout.split():
        run("task", "kill", "-s", "KILL", cid)
        time.sleep(0.2)
        run("task", "rm", "-f", cid)
        run("containers", "rm", cid)
    cd.stop()


def run_args(cid: str, *extra: str) -> list[str]:
    return ["run", "--snapshotter", "native", "--runc-binary", RUNC, "--runc-root",
            f"/tmp/nsbox-runc-containerd-{SESSION}/runc", *extra, IMAGE, cid]


def test_ctr_run_rm(ctr):
    cid = unique("c")
    r = ctr(*run_args(cid, "--rm"), "sh", "-c", "echo hello from ctr; exit 3")
    assert r.stdout == "hello from ctr\n" and r.returncode == 3, r.stderr
    assert cid not in ctr("containers", "ls", "-q").stdout.split()
    assert not cgroup_dirs(f"/{NS}/{cid}")


def test_ctr_task_exec_metrics_kill(ctr):
    cid = unique("c")
    ctr(*run_args(cid, "-d"), "sleep", "100", check=True)
    tasks = ctr("task", "ls", check=True).stdout
    assert any(line.split()[:1] == [cid] and "RUNNING" in line for line in tasks.splitlines())
    pid = int(next(line.split()[1] for line in tasks.splitlines() if line.startswith(cid)))
    assert cgroup_dirs(f"/{NS}/{cid}")
    r = ctr("task", "exec", "--exec-id", "e1", cid, "sh", "-c", "echo exec ok; cat /proc/1/cmdline", check=True)
    assert r.stdout.startswith("exec ok\nsleep")
    assert ctr("task", "exec", "--exec-id", "e2", cid, "sh", "-c", "exit 6").returncode == 6
    m = ctr("task", "metrics", cid, check=True).stdout
    assert "pids.current" in m and "memory.usage_in_bytes" in m
    ps = ctr("task", "ps", cid, check=True).stdout
    assert str(pid) in ps
    ctr("task", "pause", cid, check=True)
    assert "PAUSED" in ctr("task", "ls", check=True).stdout
    ctr("task", "resume", cid, check=True)
    assert "RUNNING" in ctr("task", "ls", check=True).stdout
    ctr("task", "kill", "-s", "KILL", cid, check=True)
    end = time.monotonic() + 10
    while "STOPPED" not in ctr("task", "ls").stdout and time.monotonic() < end:
        time.sleep(0.1)
    assert "STOPPED" in ctr("task", "ls").stdout
    ctr("task", "rm", cid, check=True)
    ctr("containers", "rm", cid, check=True)
    assert not os.path.exists(f"/proc/{pid}/stat") or "Z" in open(f"/proc/{pid}/stat").read().split(")")[1][:3]
    assert not cgroup_dirs(f"/{NS}/{cid}")
