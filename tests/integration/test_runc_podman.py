"""nsbox-runc driven by Podman (Debian's podman + conmon, cgroupfs manager), on a
private --root/--runroot and an image imported from a busybox rootfs: nothing pulled."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import tarfile
import time

import pytest

from tests.conftest import IS_ROOT, SESSION
from tests.integration.runc_helpers import RUNC, unique

pytestmark = pytest.mark.root
# The machine's hard RLIMIT_NOFILE is below Podman's default (no CAP_SYS_RESOURCE to raise it)
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
IMAGE = "localhost/nsbox-runc-test:latest"


class Podman:
    def __init__(self, base: str, runtime: str, user=None) -> None:
        self.base = base
        self.user = user
        self.global_args = ["--root", f"{base}/root", "--runroot", f"{base}/runroot", "--tmpdir", f"{base}/tmp",
                            "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--storage-driver", "vfs",
                            "--runtime", runtime, "--runtime-flag", f"root={base}/runtime"]
        # (--runtime-flag: nsbox-runc's state in the test's directory, not /run/nsbox-runc)

    def argv(self, *args: str) -> list[str]:
        base = ["podman", *self.global_args, *args]
        if self.user is None:
            return base
        u = self.user
        return ["setpriv", f"--reuid={u.pw_uid}", f"--regid={u.pw_gid}", "--init-groups", "--reset-env", "env",
                f"HOME={self.base}", f"XDG_RUNTIME_DIR={self.base}/xdg",
                "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", *base]

    def run(self, *args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
        r = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, cwd="/")
        if check and r.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r


def _image_tar(rootfs: str, path: str) -> None:
    with tarfile.open(path, "w") as t:
        t.add(rootfs, arcname=".")
    os.chmod(path, 0o644)


def _podman(base: str, rootfs: str, runtime: str, user=None) -> Podman:
    os.makedirs(f"{base}/xdg", mode=0o700, exist_ok=True)
    if user is not None:
        subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", base], check=True)
    p = Podman(base, runtime, user)
    tar = f"{base}/image.tar"
    _image_tar(rootfs, tar)
    p.run("import", tar, IMAGE, check=True, timeout=120)
    return p


@pytest.fixture(scope="module")
def podman(busybox_rootfs):
    if not IS_ROOT:
        pytest.skip("needs root")
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed (scripts/test installs it)")
    base = f"/tmp/nsbox-runc-podman-{SESSION}"
    os.makedirs(base, exist_ok=True)
    p = _podman(base, busybox_rootfs, RUNC)
    yield p
    p.run("rm", "--all", "--force", "--time", "0")
    p.run("system", "reset", "--force")
    subprocess.run(["rm", "-rf", base])


def test_run_rm_output_and_exit_status(podman):
    r = podman.run("run", "--rm", "--network", "none", *ULIMITS, IMAGE, "sh", "-c", "echo hello; exit 3")
    assert r.returncode == 3 and r.stdout == "hello\n", r.stderr
    assert podman.run("ps", "-aq", check=True).stdout == ""


def test_run_detached_exec_logs_stop_rm(podman):
    name = unique("p")
    podman.run("run", "-d", "--name", name, "--network", "none", *ULIMITS, IMAGE, "sh", "-c",
               "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done", check=True)
    r = podman.run("exec", name, "sh", "-c", "echo from-exec; cat /proc/1/cmdline", check=True)
    assert r.stdout.startswith("from-exec\nsh")
    assert podman.run("exec", name, "sh", "-c", "exit 4").returncode == 4
    end = time.monotonic() + 10
    while "started" not in podman.run("logs", name).stdout and time.monotonic() < end:
        time.sleep(0.1)
    assert podman.run("logs", name, check=True).stdout.startswith("started")
    t0 = time.monotonic()
    podman.run("stop", "-t", "10", name, check=True)
    assert time.monotonic() - t0 < 8  # SIGTERM reached the trap: no SIGKILL after the timeout
    assert "bye" in podman.run("logs", name, check=True).stdout
    inspect = podman.run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name, check=True)
    assert inspect.stdout.split() == ["exited", "0"]
    podman.run("rm", name, check=True)
    assert name not in podman.run("ps", "-a", "--format", "{{.Names}}", check=True).stdout


def test_run_interactive_terminal(podman):
    pid, fd = pty.fork()
    if pid == 0:
        argv = podman.argv("run", "--rm", "-it", "--network", "none", *ULIMITS, IMAGE, "sh")
        os.execvp(argv[0], argv)
    out = b""
    os.write(fd, b"tty; echo $((6*7)); exit 5\n")
    end = time.monotonic() + 60
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert b"/dev/pts/0" in out and b"42" in out, out
    assert os.waitstatus_to_exitcode(status) == 5


def test_memory_and_pids_limits(podman):
    r = podman.run("run", "--rm", "--network", "none", *ULIMITS, "--memory", "64m", "--pids-limit", "33", IMAGE,
                   "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
                   "/proc/sys/net/ipv4/ping_group_range", check=True)
    assert r.stdout.split() == [str(64 << 20), "33", "0", "0"]  # (Podman's default sysctl too)


def test_pid_container(podman):
    name = unique("p")
    podman.run("run", "-d", "--name", name, "--network", "none", *ULIMITS, IMAGE, "sleep", "100", check=True)
    r = podman.run("run", "--rm", "--network", "none", *ULIMITS, "--pid", f"container:{name}", IMAGE, "ps",
                   check=True)
    assert "sleep 100" in r.stdout
    podman.run("rm", "-f", "-t", "0", name, check=True)


@pytest.mark.rootless
def test_rootless_podman(rootless_user, busybox_rootfs):
    from pathlib import Path

    pw, nsbox = rootless_user
    base = f"/tmp/nsbox-runc-podman-{SESSION}-{pw.pw_uid}"
    os.makedirs(base, exist_ok=True)
    p = _podman(base, busybox_rootfs, str(Path(nsbox).parent / "nsbox-runc"), pw)
    try:
        r = p.run("run", "--rm", "--network", "none", IMAGE, "sh", "-c", "id -u; cat /proc/self/uid_map",
                  check=True)
        lines = r.stdout.split()
        assert lines[0] == "0" and lines[1:4] == ["0", str(pw.pw_uid), "1"]
        name = unique("p")
        p.run("run", "-d", "--name", name, "--network", "none", IMAGE, "sleep", "100", check=True)
        assert p.run("exec", name, "id", "-u", check=True).stdout == "0\n"
        p.run("rm", "-f", "-t", "0", name, check=True)
    finally:
        p.run("system", "reset", "--force")
        subprocess.run(["rm", "-rf", base])
