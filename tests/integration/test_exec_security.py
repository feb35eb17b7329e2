"""Escapes through a process joining a container, tried from inside (CVE-2019-5736, CVE-2024-21626 classes)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time

from .lifecycle import containers, run_d, unique, wait_for


def _sha(path: str) -> str:
    with open(os.path.realpath(path), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_no_host_descriptor_reaches_the_container(runner, busybox_rootfs):
    """A host directory open in the caller (fd N) must not be reachable inside: not
    listed in /proc/self/fd, not usable as a working directory (CVE-2024-21626)."""
    with containers(runner) as made:
        made.append(unique())
        run_d(runner, "--rootfs", busybox_rootfs, "--", "sleep", "1000", name=made[0])
        fd = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY)
        try:
            def run(*args: str) -> subprocess.CompletedProcess:
                return subprocess.run(runner.argv(*args), env=runner.env(), cwd="/", capture_output=True,
                                      text=True, pass_fds=(fd,), timeout=60)

            r = run("exec", made[0], "ls", "-l", "/proc/self/fd")
            assert r.returncode == 0, r.stderr
            fds = {line.split()[-3]: line.split()[-1] for line in r.stdout.splitlines() if "->" in line}
            assert set(fds) <= {"0", "1", "2", "3"}, fds  # 3: the directory ls itself is reading
            assert "3" not in fds or fds["3"].startswith("/proc/")
            for wd in (f"/proc/self/fd/{fd}", "/proc/self/cwd/..", "/../../../.."):
                r = run("exec", "-w", wd, made[0], "sh", "-c", "ls -di / .; cat ./shadow 2>&1; pwd")
                if r.returncode == 0:  # /../.. is the container's own root: fine, but nothing of the host's
                    inode_root, inode_cwd = (line.split()[0] for line in r.stdout.splitlines()[:2])
                    assert inode_root == inode_cwd and "root:" not in r.stdout, (wd, r.stdout)
                else:
                    assert r.returncode == 125 and r.stderr.startswith("nsbox: "), (wd, r.stderr)
            r = run("exec", made[0], "sh", "-c", f"cd /proc/self/fd/{fd} && ls")
            assert r.returncode != 0 and "passwd" not in r.stdout
        finally:
            os.close(fd)


def test_joining_process_cannot_be_reached_from_inside(runner):
    """A watcher inside looks for exec's process before it has exec'd (its command line is
    still nsbox's: the host's interpreter) and tries to open its /proc/PID/exe for writing
    (CVE-2019-5736) and to read its environ (non-dumpable)."""
    watcher = r"""
import json, os, time
me, seen, end = os.getpid(), [], time.time() + 90
while time.time() < end and not os.path.exists("/tmp/stop"):
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                before = f.read()
            if b"nsbox" not in before or b"exec" not in before:
                continue  # not a joining process that is still the host's interpreter
            owner = os.stat(f"/proc/{d}/environ").st_uid  # (the directory itself keeps the euid)
        except OSError:
            continue
        rec = {"pid": d, "owner": owner}
        for what, flags in (("exe", os.O_WRONLY), ("environ", os.O_RDONLY)):
            path = f"/proc/{d}/{what}"
            try:
                os.close(os.open(path, flags))
                rec[what] = "opened"
            except OSError as e:
                rec[what] = e.errno
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if f.read() == before:  # it had not exec'd yet: the attempts hit the host interpreter
                    seen.append(rec)
        except OSError:
            pass
print(json.dumps(seen), flush=True)
"""
    interpreter = os.path.realpath("/proc/self/exe")
    before = _sha(interpreter)
    with containers(runner) as made:
        made.append(unique())
        run_d(runner, "--tmpfs", "/tmp", "--", "python3", "-c", watcher, name=made[0])
        for _ in range(40):
            runner.run("exec", made[0], "true", check=True)
        runner.run("exec", made[0], "touch", "/tmp/stop", check=True)
        assert runner.run("wait", made[0], timeout=60).returncode == 0
        seen = json.loads(runner.run("logs", made[0], check=True).stdout)
    assert seen, "the watcher never caught a joining process before its execve (make the test slower)"
    assert all(rec["exe"] != "opened" for rec in seen), seen
    if runner.rootless:
        # the watcher is the container's root, the same host uid as the joining process:
        # only non-dumpability keeps /proc/PID away from it (owned by the unmapped host root)
        assert all(rec["environ"] != "opened" and rec["owner"] == 65534 for rec in seen), seen
    assert _sha(interpreter) == before


def test_refuses_to_execute_our_own_interpreter(runner, busybox_rootfs):
    """The CVE-2019-5736 vector: a container binary whose #! names /proc/self/exe, which
    would run the host's interpreter (ours, until execve) as the container's process."""
    with containers(runner) as made:
        made.append(unique())
        run_d(runner, "--rootfs", busybox_rootfs, "--tmpfs", "/tmp", "--", "sleep", "1000", name=made[0])
        runner.run("exec", made[0], "sh", "-c", "printf '#!/proc/self/exe\\nprint(1)\\n' > /tmp/evil; "
                   "printf '#!/tmp/evil\\n' > /tmp/evil2; chmod +x /tmp/evil /tmp/evil2", check=True)
        for target in ("/proc/self/exe", "/tmp/evil", "/tmp/evil2"):
            r = runner.run("exec", made[0], target)
            assert r.returncode == 126, (target, r.stdout, r.stderr)
            assert "refused" in r.stderr and "CVE-2019-5736" in r.stderr
        # the same check guards `run`
        r = runner.run("run", "--rootfs", busybox_rootfs, "--", "/proc/self/exe")
        assert r.returncode == 126 and "refused" in r.stderr
    # the host's interpreter reached through the default root's read-only /usr is fine
    r = runner.run("run", "--", "python3", "-c", "print('ok')")
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


def test_exec_after_the_container_died(runner, busybox_rootfs):
    """A container whose init is gone: exec must fail cleanly, not join a recycled pid."""
    with containers(runner) as made:
        made.append(unique())
        cid = run_d(runner, "--rootfs", busybox_rootfs, "--", "sleep", "1000", name=made[0])
        with open(f"{runner.root}/containers/{cid}/state.json") as f:
            pid = json.load(f)["pid"]
        os.kill(pid, 9)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}/ns"), what="init gone")
        t0 = time.monotonic()
        r = runner.run("exec", made[0], "true")
        assert r.returncode == 125 and "not running" in r.stderr and time.monotonic() - t0 < 10
