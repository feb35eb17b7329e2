"""CVE-2019-5736 class: a container must never reach an nsbox process's host binary.

nsbox's init runs the host's Python until it execs the container's command.  A
container that shares its PID namespace with a new one (``--pid container:X``,
``nsbox debug X``) sees that init; if it is dumpable, the container's root opens
``/proc/<init>/exe`` (the host's interpreter on a writable host mount) and can
rewrite it once it stops running.  ``--init`` keeps the host's Python as PID 1
for the container's whole life.  ``enter --host-tools`` runs a host binary in
the target's PID namespace.  Each test below is an attacker inside a default
container watching for such a process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from .toolkit_helpers import unique

# The attacker: poll /proc for new processes; record every one whose exe link it
# can read and open (O_PATH), and try to open that binary for writing.
WATCHER = r"""
import os, sys, time
me = os.getpid()
stop, bait = sys.argv[1], sys.argv[2]
seen, held = set(), {}
print("ready", flush=True)
deadline = time.time() + 60
while not os.path.exists(stop) and time.time() < deadline:
    for n in os.listdir("/proc"):
        if not n.isdigit() or int(n) == me or n in seen:
            continue
        try:
            link = os.readlink(f"/proc/{n}/exe")
            fd = os.open(f"/proc/{n}/exe", os.O_PATH)
        except OSError:
            continue
        seen.add(n)
        if n != "1":
            held[fd] = link
            print(f"REACHED {n} {link}", flush=True)
time.sleep(0.3)
# the processes are gone: reopen their binaries for writing (only the bait is written to)
for fd, link in held.items():
    try:
        w = os.open(f"/proc/self/fd/{fd}", os.O_RDWR)
        # the bait is overwritten; anything else gets its own first byte back
        os.pwrite(w, b"ESCAPED" if link.startswith(bait) else os.pread(w, 1, 0), 0)
        os.close(w)
        print(f"WRITABLE {link}", flush=True)
    except OSError as e:
        print(f"DENIED {link} {e.strerror}", flush=True)
print("done", flush=True)
"""


def _attacker(runner, tmp_path, *extra: str):
    d = Path(tempfile.mkdtemp(prefix="nsbox-rt-"))  # pytest's basetemp is private to root
    os.chmod(d, 0o777)
    (d / "watch.py").write_text(WATCHER)
    name = unique("victim")
    p = runner.popen("run", "--name", name, "-v", f"{d}:/rt", *extra, "--", "python3", "/rt/watch.py",
                     "/rt/stop", str(d / "bait"), stdin=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    assert line.strip() == "ready", f"{line!r} {p.stderr.read() if p.poll() is not None else ''}"
    return name, p, d


def _finish(p, d) -> list[str]:
    (d / "stop").write_text("")
    out, err = p.communicate(timeout=60)
    assert "done" in out, f"{out}\n{err}"
    return [line for line in out.splitlines() if line.startswith(("REACHED", "WRITABLE"))]


@pytest.mark.parametrize("how", ["pid", "debug", "exec"])
def test_joined_pid_namespace_never_shows_the_hosts_python(runner, tmp_path, how):
    """The new container's init (the host's Python until execve) is non-dumpable."""
    name, p, d = _attacker(runner, tmp_path)
    try:
        for _ in range(3):
            if how == "pid":
                r = runner.run("run", "--pid", f"container:{name}", "--", "true")
            elif how == "exec":
                r = runner.run("exec", name, "true")
            else:
                r = runner.run("debug", name, "--", "true")
            assert r.returncode == 0, r.stderr
        time.sleep(0.2)
    finally:
        reached = _finish(p, d)
    shutil.rmtree(d, ignore_errors=True)
    assert not [x for x in reached if "python" in x or x.startswith("WRITABLE")], reached


def test_enter_host_tools_runs_a_sealed_copy(runner, tmp_path):
    """--host-tools: the host binary runs from a sealed memfd, so even a container
    allowed to ptrace (CAP_SYS_PTRACE) cannot reach the file on the host."""
    # A container allowed to ptrace inside its own user namespace, and a host tool
    # its root could write (rootless: the user's own ~/.local/bin).  Rootful with
    # CAP_SYS_PTRACE in the initial user namespace, a container can ptrace any
    # process it sees: --host-tools cannot be made safe against that one.
    owner = (runner.user.pw_uid, runner.user.pw_gid) if runner.rootless else (400000, 400000)
    maps = () if runner.rootless else ("--uidmap", "0:400000:65536", "--gidmap", "0:400000:65536")
    name, p, d = _attacker(runner, tmp_path, "--cap-add", "SYS_PTRACE", *maps)
    bait = d / "bait"
    bait.mkdir()
    shutil.copy2("/usr/bin/sleep", bait / "sleep")
    os.chown(bait / "sleep", *owner)
    before = (bait / "sleep").read_bytes()
    try:
        r = runner.run("enter", "-t", name, "--host-tools", "--", str(bait / "sleep"), "0.5")
        assert r.returncode == 0, r.stderr
        time.sleep(0.2)
    finally:
        reached = _finish(p, d)
    after = (bait / "sleep").read_bytes()
    shutil.rmtree(d, ignore_errors=True)
    assert after == before
    assert not [x for x in reached if str(bait) in x or x.startswith("WRITABLE")], reached
    assert [x for x in reached if "memfd:sleep" in x], reached  # it was seen, and sealed


@pytest.mark.root
def test_init_wrapper_is_out_of_reach(root_runner):
    """--init stays as PID 1 (the host's Python): non-dumpable, no host fds."""
    r = root_runner.run("run", "--init", "--", "sh", "-c",
                        "ls /proc/1/fd; readlink /proc/1/exe || echo NOEXE")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[-1] == "NOEXE", r.stdout
    assert sorted(lines[:-1]) == ["0", "1", "2"], r.stdout


def test_init_wrapper_holds_no_host_fds(runner):
    r = runner.run("run", "--init", "--", "ls", "/proc/1/fd")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == ["0", "1", "2"], r.stdout


def test_exec_reaches_an_init_wrapper_in_a_joined_pid_namespace(runner):
    """Non-dumpable until execve must not lock out the owner: --init stays (the
    host's Python) and is still entered by exec, rootless too."""
    a, b = unique("pidA"), unique("pidB")
    try:
        runner.run("run", "-d", "--name", a, "--", "sleep", "60", check=True)
        runner.run("run", "-d", "--name", b, "--pid", f"container:{a}", "--init", "--", "sleep", "60",
                   check=True)
        r = runner.run("exec", b, "echo", "in")
        assert r.returncode == 0 and r.stdout.strip() == "in", r.stderr
    finally:
        runner.run("rm", "-f", b, a)
