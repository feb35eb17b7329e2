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
stop = sys.argv[1]
seen = set()
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
        if link.startswith("/proc/") or n == "1":
            continue
        try:
            w = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY)
            os.close(w)
            res = "WRITABLE"
        except OSError as e:
            res = e.strerror
        print(f"REACHED {n} {link} {res}", flush=True)
print("done", flush=True)
"""


def _attacker(runner, tmp_path, *extra: str):
    d = Path(tempfile.mkdtemp(prefix="nsbox-rt-"))  # pytest's basetemp is private to root
    os.chmod(d, 0o777)
    (d / "watch.py").write_text(WATCHER)
    name = unique("victim")
    p = runner.popen("run", "--name", name, "-v", f"{d}:/rt", *extra, "--", "python3", "/rt/watch.py",
                     "/rt/stop", stdin=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    assert line.strip() == "ready", f"{line!r} {p.stderr.read() if p.poll() is not None else ''}"
    return name, p, d


def _finish(p, d) -> list[str]:
    (d / "stop").write_text("")
    out, err = p.communicate(timeout=60)
    shutil.rmtree(d, ignore_errors=True)
    assert "done" in out, f"{out}\n{err}"
    return [line for line in out.splitlines() if line.startswith("REACHED")]


@pytest.mark.parametrize("how", ["pid", "debug"])
def test_joined_pid_namespace_never_shows_the_hosts_python(runner, tmp_path, how):
    """The new container's init (the host's Python until execve) is non-dumpable."""
    name, p, d = _attacker(runner, tmp_path)
    try:
        for _ in range(3):
            if how == "pid":
                r = runner.run("run", "--pid", f"container:{name}", "--", "true")
            else:
                r = runner.run("debug", name, "--", "true")
            assert r.returncode == 0, r.stderr
        time.sleep(0.2)
    finally:
        reached = _finish(p, d)
    assert not [x for x in reached if "python" in x], reached


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
