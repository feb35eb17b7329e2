"""Device policy on a real kernel: a root container cannot reach host disks by mknod."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _disk() -> tuple[int, int]:
    for name in sorted(os.listdir("/sys/class/block")):
        try:
            major, minor = open(f"/sys/class/block/{name}/dev").read().split(":")
            return int(major), int(minor)
        except OSError:
            continue
    pytest.fail("no block device on this machine to test with")


@pytest.mark.root
def test_mknod_of_a_host_disk_cannot_be_opened(root_runner):
    major, minor = _disk()
    script = (f"mknod /tmp/disk b {major} {minor} && echo MADE && head -c 1 /tmp/disk > /dev/null && echo READ; "
              "echo x > /dev/null && echo null-ok")
    # CAP_MKNOD is not in the default set (Podman's): given back, the device policy still holds
    r = root_runner.run("run", "--cap-add", "MKNOD", "--", "sh", "-c", script)
    assert "MADE" in r.stdout and "READ" not in r.stdout, r.stdout + r.stderr
    assert "null-ok" in r.stdout
    r = root_runner.run("run", "--", "sh", "-c", script)
    assert "MADE" not in r.stdout and "null-ok" in r.stdout, r.stdout + r.stderr


@pytest.mark.root
def test_ebpf_device_filter_on_cgroup2(tmp_path):
    """The v2 path (an eBPF program), checked on this machine's cgroup2 mount."""
    mnt = None
    for line in open("/proc/self/mountinfo"):
        f = line.split()
        if line.split(" - ")[1].startswith("cgroup2 "):
            mnt = f[4]
            break
    if mnt is None:
        pytest.fail("no cgroup2 mount to test the eBPF device filter on")
    major, minor = _disk()
    code = f"""
import os, sys
from nsbox.cgroups import devices
d = {mnt!r} + "/nsbox-devtest-{os.getpid()}"
os.mkdir(d)
try:
    devices.apply_v2(d, devices.default_rules())
    pid = os.fork()
    if pid == 0:
        open(d + "/cgroup.procs", "w").write(str(os.getpid()))
        ok = []
        for path in ("/dev/null",):
            os.close(os.open(path, os.O_RDONLY)); ok.append("null")
        os.mknod({str(tmp_path / 'disk')!r}, 0o600 | 0o060000, os.makedev({major}, {minor}))
        try:
            os.close(os.open({str(tmp_path / 'disk')!r}, os.O_RDONLY)); ok.append("disk")
        except PermissionError:
            pass
        print(",".join(ok)); sys.stdout.flush(); os._exit(0)
    os.waitpid(pid, 0)
finally:
    os.rmdir(d)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "null", r.stderr
