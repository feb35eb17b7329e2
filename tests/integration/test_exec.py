"""nsbox exec: namespaces, cgroup, root, environment, user, terminal, exit status, signals."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time

import pytest

from .lifecycle import containers, run_d, state_of, unique, wait_for

KINDS = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")


@pytest.fixture
def sleeper(runner, busybox_rootfs):
    """A running busybox container (name), with an environment and a working directory."""
    with containers(runner) as made:
        name = unique("ex")
        made.append(name)
        run_d(runner, "--rootfs", busybox_rootfs, "--tmpfs", "/tmp", "-e", "FROM_RUN=1", "-w", "/tmp",
              "--hostname", "boxy",
              "--", "sleep", "1000", name=name)
        yield name


def test_exec_joins_every_namespace(runner, sleeper):
    script = "; ".join(f"echo {k} $(readlink /proc/self/ns/{k}) $(readlink /proc/1/ns/{k})" for k in KINDS)
    r = runner.run("exec", sleeper, "sh", "-c", script, check=True)
    lines = [line.split() for line in r.stdout.splitlines()]
    assert [line[0] for line in lines] == list(KINDS)
    for kind, mine, init in lines:
        assert mine == init, kind
    # ... and they are the container's, not ours
    pid = state_of(runner, _cid(runner, sleeper))["pid"]
    for kind, mine, _ in lines:
        assert mine == os.readlink(f"/proc/{pid}/ns/{kind}")
    assert runner.run("exec", sleeper, "hostname", check=True).stdout == "boxy\n"


def _cid(runner, name: str) -> str:
    return os.readlink(f"{runner.root}/names/{name}")


def test_exec_root_env_cwd(runner, sleeper):
    r = runner.run("exec", "-e", "EXTRA=2", "-e", "FROM_RUN=over", sleeper, "sh", "-c",
                   "pwd; echo $FROM_RUN $EXTRA $HOSTNAME; ls /", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "/tmp"  # the container's working directory
    assert lines[1] == "over 2 boxy"
    assert "busybox" not in r.stdout and "bin" in lines[2:]  # the container's root
    r = runner.run("exec", "-w", "/etc", sleeper, "pwd", check=True)
    assert r.stdout == "/etc\n"
    r = runner.run("exec", "-w", "/nonexistent", sleeper, "pwd")
    assert r.returncode == 125 and "`/nonexistent`" in r.stderr
    r = runner.run("exec", "-w", "relative", sleeper, "pwd")
    assert r.returncode == 125 and "must be an absolute path" in r.stderr


def test_exec_user(runner, sleeper):
    r = runner.run("exec", sleeper, "id", check=True)
    assert r.stdout.startswith("uid=0(root) gid=0(root)")
    if runner.rootless:
        r = runner.run("exec", "-u", "1000", sleeper, "id")  # rootless: only root is mapped
        assert r.returncode == 125 and "not mapped in the container's user namespace" in r.stderr
        return
    r = runner.run("exec", "-u", "1000", sleeper, "sh", "-c", "id; echo $HOME", check=True)
    ident, home = r.stdout.splitlines()
    assert ident.startswith("uid=1000(user) gid=1000(user)") and home == "/home/user"
    assert sorted(ident.split("groups=")[1].split(",")) == ["10(wheel)", "1000(user)"]  # initgroups, as run -u
    r = runner.run("exec", "-u", "nobody:nogroup", sleeper, "id", "-u", check=True)
    assert r.stdout == "65534\n"
    r = runner.run("exec", "-u", "4321:4322", sleeper, "sh", "-c", "id -u; id -g", check=True)
    assert r.stdout == "4321\n4322\n"
    r = runner.run("exec", "-u", "nosuchuser", sleeper, "id")
    assert r.returncode == 125 and "no user `nosuchuser`" in r.stderr


@pytest.mark.root
def test_exec_joins_the_cgroup(root_runner, busybox_rootfs):
    with containers(root_runner) as made:
        made.append(unique())
        run_d(root_runner, "--rootfs", busybox_rootfs, "--cgroupns", "host", "--", "sleep", "1000", name=made[0])
        r = root_runner.run("exec", made[0], "sh", "-c", "cat /proc/self/cgroup; echo --; cat /proc/1/cgroup",
                            check=True)
        mine, init = r.stdout.split("--\n")
        assert mine == init and "/nsbox" in mine


def test_exit_status(runner, sleeper):
    assert runner.run("exec", sleeper, "sh", "-c", "exit 42").returncode == 42
    assert runner.run("exec", sleeper, "sh", "-c", "kill -KILL $$").returncode == 137
    r = runner.run("exec", sleeper, "no-such-command")
    assert r.returncode == 127
    assert r.stderr == "nsbox: exec `no-such-command`: executable file not found in $PATH\n"
    r = runner.run("exec", sleeper, "/etc/passwd")
    assert r.returncode == 126 and r.stderr == "nsbox: exec `/etc/passwd`: permission denied\n"
    r = runner.run("exec", "no-such-container", "true")
    assert r.returncode == 125 and r.stderr == "nsbox: no such container: `no-such-container`\n"
    r = runner.run("exec", sleeper)
    assert r.returncode == 125 and "expected a container and a command" in r.stderr


def test_exec_stopped_container(runner):
    with containers(runner) as made:
        made.append(unique())
        run_d(runner, "--", "true", name=made[0])
        runner.run("wait", made[0])
        r = runner.run("exec", made[0], "true")
        assert r.returncode == 125 and r.stderr == f"nsbox: exec `{made[0]}`: container is not running\n"


def test_stdin_only_with_i(runner, sleeper):
    assert runner.run("exec", "-i", sleeper, "cat", input="hello\n", check=True).stdout == "hello\n"
    assert runner.run("exec", sleeper, "cat", input="hello\n", check=True).stdout == ""


def test_detached_exec(runner, sleeper):
    t0 = time.monotonic()
    r = runner.run("exec", "-d", sleeper, "sh", "-c", "sleep 1; echo done > /tmp/marker", check=True)
    assert r.stdout == "" and time.monotonic() - t0 < 10
    wait_for(lambda: runner.run("exec", sleeper, "cat", "/tmp/marker").stdout == "done\n", what="marker")
    r = runner.run("exec", "-d", "-t", sleeper, "true")
    assert r.returncode == 125 and "-t cannot be used with -d" in r.stderr


def test_signals_are_forwarded(runner, sleeper):
    script = 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done'
    p = runner.popen("exec", sleeper, "sh", "-c", script)
    assert p.stdout.readline() == b"ready\n"
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=20)
    assert out == b"got-term\n" and p.returncode == 7


def _pty_run(argv: list[str], env: dict, rows: int = 33, cols: int = 101, send: bytes = b"") -> tuple[int, bytes]:
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd="/", start_new_session=True)
    os.close(slave)
    out = b""
    if send:
        os.write(master, send)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        elif p.poll() is not None:
            break
    p.wait(timeout=10)
    os.close(master)
    return p.returncode, out


def test_tty(runner, sleeper):
    code, out = _pty_run(runner.argv("exec", "-t", sleeper, "sh", "-c", "tty; stty size; echo $TERM"),
                         runner.env())
    assert code == 0, out
    text = out.decode().replace("\r", "")
    assert "/dev/pts/" in text and "33 101" in text
    code, out = _pty_run(runner.argv("exec", "-it", sleeper, "sh", "-c", "read x; echo got-$x; exit 3"),
                         runner.env(), send=b"abc\r")
    assert code == 3 and b"got-abc" in out
