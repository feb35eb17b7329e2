"""nsbox-runc driven by Docker (Debian's docker.io): a private dockerd (temporary
--data-root, --exec-root and socket, no iptables, no bridge) with
``--add-runtime nsbox=nsbox-runc``, and an image loaded from a busybox rootfs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.conftest import IS_ROOT, SESSION
from tests.integration.oci_image import write_archive
from tests.integration.runc_helpers import RUNC, unique

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def docker(busybox_rootfs):
    if not IS_ROOT:
        pytest.skip("needs root")
    if shutil.which("dockerd") is None:
        pytest.fail("docker.io is not installed (scripts/test installs it)")
    d = f"/tmp/nsbox-runc-docker-{SESSION}"
    os.makedirs(d, exist_ok=True)
    sock = f"{d}/docker.sock"
    log = open(f"{d}/dockerd.log", "w")
    # --ip-forward=false: dockerd would otherwise turn on the host's net.ipv4.ip_forward
    proc = subprocess.Popen(["dockerd", "--data-root", f"{d}/data", "--exec-root", f"{d}/exec", "--pidfile",
                             f"{d}/docker.pid", "-H", f"unix://{sock}", "--iptables=false", "--ip6tables=false",
                             "--bridge=none", "--ip-forward=false", "--storage-driver", "vfs",
                             "--add-runtime", f"nsbox={RUNC}"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def run(*args, check=False, timeout=60):
        r = subprocess.run(["docker", "-H", f"unix://{sock}", *args], capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r
    try:
        end = time.monotonic() + 60
        while run("info").returncode != 0:
            assert proc.poll() is None and time.monotonic() < end, open(f"{d}/dockerd.log").read()[-3000:]
            time.sleep(0.2)
        write_archive(busybox_rootfs, f"{d}/image.tar", "docker.io/library/nsbox-runc-test:latest", docker=True)
        run("load", "-i", f"{d}/image.tar", check=True)
        yield run
    finally:
        ids = run("ps", "-aq").stdout.split()
        if ids:
            run("rm", "-f", *ids)
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(["sh", "-c", f"grep -o ' {d}/[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l"])
        subprocess.run(["rm", "-rf", d])


IMAGE = "nsbox-runc-test:latest"
RUN = ["run", "--runtime", "nsbox", "--network", "none"]


def test_docker_run_rm(docker):
    r = docker(*RUN, "--rm", IMAGE, "sh", "-c", "echo hello from docker; exit 3")
    assert r.returncode == 3 and r.stdout == "hello from docker\n", r.stderr
    assert docker("ps", "-aq", check=True).stdout == ""


def test_docker_detached_exec_logs_stop_rm(docker):
    name = unique("d")
    docker(*RUN, "-d", "--name", name, IMAGE, "sh", "-c",
           "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done", check=True)
    r = docker("exec", name, "sh", "-c", "echo from-exec; cat /proc/1/cmdline", check=True)
    assert r.stdout.startswith("from-exec\nsh")
    assert docker("exec", name, "sh", "-c", "exit 4").returncode == 4
    end = time.monotonic() + 10
    while "started" not in docker("logs", name).stdout and time.monotonic() < end:
        time.sleep(0.1)
    t0 = time.monotonic()
    docker("stop", name, check=True)
    assert time.monotonic() - t0 < 8  # the trap ran: no SIGKILL after the timeout
    assert docker("logs", name, check=True).stdout.split() == ["started", "bye"]
    assert docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name, check=True).stdout.split() == [
        "exited", "0"]
    docker("rm", name, check=True)


def test_docker_limits(docker):
    r = docker(*RUN, "--rm", "-m", "64m", "--pids-limit", "20", IMAGE, "sh", "-c",
               "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max", check=True)
    assert r.stdout.split() == [str(64 << 20), "20"]
