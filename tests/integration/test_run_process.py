"""nsbox run: the process: exit codes, signals, environment, user, terminal, --init."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time

import pytest


def test_exit_status(runner):
    assert runner.run("run", "--", "sh", "-c", "exit 3").returncode == 3
    assert runner.run("run", "--", "true").returncode == 0


def test_killed_by_signal_is_128_plus_n(runner):
    # (PID 1 of a namespace cannot be killed from inside it: --init makes sh PID 2)
    r = runner.run("run", "--init", "--", "sh", "-c", "kill -KILL $$")
    assert r.returncode == 137
    r = runner.run("run", "--init", "--", "sh", "-c", "kill -TERM $$")
    assert r.returncode == 143


def test_missing_command_is_127(runner):
    r = runner.run("run", "--", "no-such-command-xyz")
    assert r.returncode == 127
    assert r.stderr.strip() == "nsbox: exec `no-such-command-xyz`: executable file not found in $PATH"
    r = runner.run("run", "--", "/no/such/file")
    assert r.returncode == 127
    assert "/no/such/file" in r.stderr


def test_not_executable_is_126(runner):
    r = runner.run("run", "--", "/etc/passwd")
    assert r.returncode == 126
    assert r.stderr.strip() == "nsbox: exec `/etc/passwd`: permission denied"
    r = runner.run("run", "--", "/etc")
    assert r.returncode == 126


def test_nsbox_errors_are_125_one_line(runner):
    r = runner.run("run", "--rootfs", "/nonexistent-root", "--", "true")
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("nsbox: ")
    assert "Traceback" not in r.stderr
    r = runner.run("run", "--bogus-flag", "--", "true")
    assert r.returncode == 125 and "unknown option `--bogus-flag`" in r.stderr


def test_environment(runner, shared_tmp):
    envfile = os.path.join(shared_tmp, "env")
    with open(envfile, "w") as f:
        f.write("# comment\nFROM_FILE=yes\nBOTH=file\n")
    os.chmod(envfile, 0o644)
    r = runner.run("run", "--env-file", str(envfile), "-e", "BOTH=flag", "-e", "A=1=2", "--", "env", check=True)
    env = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert env["FROM_FILE"] == "yes" and env["BOTH"] == "flag" and env["A"] == "1=2"
    assert env["PATH"].startswith("/usr/local/sbin") and env["HOME"] == "/root"
    assert "HOSTNAME" in env
    # nothing of the caller's environment leaks in unless asked
    assert "NSBOX_ROOT" not in env


def test_workdir_and_user(runner):
    r = runner.run("run", "-w", "/tmp/new/dir", "--", "pwd", check=True)
    assert r.stdout.strip() == "/tmp/new/dir"
    if runner.rootless:
        r = runner.run("run", "-u", "1000", "--", "id", "-u")
        assert r.returncode == 125 and "not mapped" in r.stderr
        r = runner.run("run", "--userns", "auto", "-u", "1000:1000", "--", "sh", "-c", "id -u; id -g", check=True)
    else:
        r = runner.run("run", "-u", "1000:1000", "--", "sh", "-c", "id -u; id -g", check=True)
    assert r.stdout.split() == ["1000", "1000"]


def test_user_by_name_from_the_root_filesystem(runner, busybox_rootfs):
    args = ["--userns", "auto"] if runner.rootless else []
    r = runner.run("run", *args, "--rootfs", busybox_rootfs, "-u", "user", "--", "id", check=True)
    assert "uid=1000(user) gid=1000(user)" in r.stdout
    groups = r.stdout.split("groups=")[1].split()[0].split(",")
    assert sorted(groups) == ["10(wheel)", "1000(user)"]  # supplementary groups from /etc/group, as Docker
    r = runner.run("run", *args, "--rootfs", busybox_rootfs, "-u", "nosuchuser", "--", "id")
    assert r.returncode == 125 and "nosuchuser" in r.stderr


def test_stdin_passed_through(runner):
    r = runner.run("run", "--", "sh", "-c", "cat; echo done", input="hello\n", check=True)
    assert r.stdout == "hello\ndone\n"


def test_large_output(runner):
    r = runner.run("run", "--", "sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x", check=True)
    assert len(r.stdout) == 5_000_000


def _wait_for(path: str, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path) and os.path.getsize(path):
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGINT])
def test_signals_forwarded(runner, shared_tmp, sig):
    tmp_path = shared_tmp
    ready = os.path.join(shared_tmp, "ready")
    name = signal.Signals(sig).name[3:]
    script = (f"trap 'echo got-{name}; exit 7' {name}; echo up > /w/ready; "
              "while true; do sleep 0.05; done")
    p = runner.popen("run", "-v", f"{tmp_path}:/w", "--", "sh", "-c", script, text=True)
    try:
        _wait_for(str(ready))
        p.send_signal(sig)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert f"got-{name}" in out, err
    assert p.returncode == 7


def test_init_reaps_zombies_and_forwards(runner):
    script = ("sh -c 'sleep 0.1 & exec sleep 0.2' & sleep 1; "
              "ps -o stat= -e | grep -c Z || true")
    r = runner.run("run", "--init", "--", "sh", "-c", script, check=True)
    assert r.stdout.strip().splitlines()[-1] == "0"
    r = runner.run("run", "--init", "--", "sh", "-c", "echo $$; ps -o pid=,comm= -p 1")
    pid_of_sh, ps1 = r.stdout.strip().splitlines()
    assert pid_of_sh != "1" and "python" in ps1 or "nsbox" in ps1 or ps1.split()[0] == "1"


def _run_in_pty(argv: list[str], env: dict, send: bytes = b"", rows: int = 33, cols: int = 77,
                timeout: float = 20) -> tuple[int, bytes]:
    """Run argv on a fresh pty of the given size; return (exit code, everything it printed)."""
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    out = b""
    sent = not send
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                break
            out += data
        if not sent and time.monotonic() > end - timeout + 0.5:
            os.write(fd, send)
            sent = True
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError(f"pty run timed out: {out!r}")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out


def test_tty(runner):
    argv = runner.argv("run", "-t", "--", "sh", "-c", "tty; stty size; test -t 0 && echo isatty; exit 5")
    code, out = _run_in_pty(argv, runner.env())
    text = out.decode(errors="replace")
    assert code == 5, text
    assert "/dev/pts/0" in text
    assert "33 77" in text
    assert "isatty" in text


def test_tty_interactive_input(runner):
    argv = runner.argv("run", "-it", "--", "sh", "-c", "read line; echo got:$line")
    code, out = _run_in_pty(argv, runner.env(), send=b"hello\r")
    assert code == 0
    assert b"got:hello" in out


def test_tty_restores_terminal_mode(runner):
    import termios

    pid, fd = pty.fork()
    if pid == 0:
        before = termios.tcgetattr(0)
        r = subprocess.run(runner.argv("run", "-t", "--", "true"), env=runner.env())
        after = termios.tcgetattr(0)
        os._exit(0 if before == after and r.returncode == 0 else 1)
    status = None
    end = time.monotonic() + 20
    while time.monotonic() < end:
        try:
            os.read(fd, 65536)
        except OSError:
            pass
        wpid, status = os.waitpid(pid, os.WNOHANG)
        if wpid:
            break
        time.sleep(0.05)
    assert status is not None and os.waitstatus_to_exitcode(status) == 0


def test_init_shows_nothing_of_the_host(runner):
    # PID 1 of --init is nsbox's own process for the container's whole life: neither the host's
    # command line (venv paths, flags) nor the caller's environment may show through /proc/1
    r = runner.run("run", "--init", "-e", "MINE=1", "--", "sh", "-c",
                   "tr '\\0' ' ' < /proc/1/cmdline; echo; "
                   "(tr -d '\\0' < /proc/1/environ 2>/dev/null || true) | wc -c", check=True)
    cmdline, env_bytes = r.stdout.strip().splitlines()
    assert cmdline.strip() == "nsbox-init"
    assert env_bytes.strip() == "0"
