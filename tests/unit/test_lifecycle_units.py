"""Lifecycle pieces without privileges: locks, live status, wait's exit file, signals,
ps formatting, logs --tail, the supervisor's exit decoding, exec's environment and
user lookup, fd hygiene, cgroup.procs discovery."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from nsbox.errors import ConfigError, ContainerNotFound
from nsbox.runtime import control, gc
from nsbox.runtime import state as S


def _store(tmp_path) -> S.Store:
    return S.Store(str(tmp_path / "root"))


def _dead_owner(st: S.Store, cid: str, **state) -> S.Container:
    code = (f"import sys; sys.path.insert(0, {os.getcwd()!r});"
            f"from nsbox.runtime import state as S; st = S.Store({st.root!r}); c = st.new({cid!r}); "
            f"c.init_state(**{state!r})")
    subprocess.run([sys.executable, "-c", code], check=True)
    return st.lookup(cid)


# -- state.py ---------------------------------------------------------------------------------

def test_new_container_has_its_lock_files(tmp_path):
    c = _store(tmp_path).new("a" * 64)
    for f in ("lock", "exitcode", "owner.lock"):
        assert os.stat(f"{c.path}/{f}").st_mode & 0o777 == 0o600


def test_lock_on_a_removed_container(tmp_path):
    st = _store(tmp_path)
    c = st.new("b" * 64)
    c.init_state()
    other = st.lookup("b" * 64)
    c.remove_dir()
    with pytest.raises(ContainerNotFound, match="removed"):
        other.lock()


def test_lock_detects_removal_while_waiting(tmp_path):
    st = _store(tmp_path)
    c = st.new("c" * 64)
    c.init_state()
    c.lock()
    later = st.lookup("c" * 64)
    # another process waits for the lock while we remove the container
    code = (f"import sys; sys.path.insert(0, {os.getcwd()!r}); from nsbox.runtime import state as S;"
            f"c = S.Store({st.root!r}).lookup({'c' * 64!r})\n"
            "try:\n    c.lock(); print('locked')\nexcept Exception as e:\n    print(type(e).__name__)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    c.remove_dir()
    c.unlock()
    assert p.communicate(timeout=20)[0].strip() == "NotFound"
    assert later.state  # (a stale object reads nothing new)


def test_shared_locks_exclude_only_exclusive_ones(tmp_path):
    st = _store(tmp_path)
    c = st.new("d" * 64)
    c.init_state()
    a, b, x = (st.lookup("d" * 64) for _ in range(3))
    assert a.lock(shared=True) and b.lock(shared=True)
    assert not x.lock(blocking=False)
    a.unlock()
    b.unlock()
    assert x.lock(blocking=False)
    x.unlock()


def test_live_status(tmp_path):
    st = _store(tmp_path)
    c = st.new("e" * 64)
    c.init_state(status=S.RUNNING, pid=os.getpid(), pidStart=None)
    assert c.live_status() == S.RUNNING
    c.write(pid=2**22 + 12345)  # no such process
    assert c.live_status() == S.STOPPED
    dead = _dead_owner(st, "f" * 64)  # "creating", its owner gone
    assert dead.live_status() == S.STOPPED
    c.write(status=S.CREATING)
    assert c.live_status() == S.CREATING  # we own it


def test_exit_code_file_survives_removal(tmp_path):
    st = _store(tmp_path)
    c = st.new("g" * 64)
    c.init_state()
    fd = os.open(c.exitcode_path, os.O_RDONLY)
    try:
        c.record_exit_code(42)
        c.remove_dir()
        assert os.pread(fd, 16, 0) == b"42"
    finally:
        os.close(fd)


def test_rmtree_tolerates_concurrent_removal(tmp_path):
    d = tmp_path / "x"
    d.mkdir()
    S.rmtree(str(d))
    S.rmtree(str(d))  # already gone: nothing to do


# -- gc.py ------------------------------------------------------------------------------------

def test_gc_records_137_and_the_exit_file(tmp_path):
    st = _store(tmp_path)
    c = _dead_owner(st, "j" * 64, status=S.RUNNING, pid=0, detached=True)
    assert gc.collect(st) == ["j" * 64]
    c = st.lookup("j" * 64)
    assert c.state["status"] == S.STOPPED and c.state["exitCode"] == 137
    assert "supervisor died" in c.state["exitReason"]
    with open(c.exitcode_path) as f:
        assert f.read() == "137"


def test_gc_skips_a_container_removed_under_it(tmp_path, monkeypatch):
    st = _store(tmp_path)
    _dead_owner(st, "k" * 64, status=S.RUNNING, pid=0, detached=True)

    def vanish(self, blocking=True, shared=False):
        S.rmtree(self.path)
        raise ContainerNotFound("gone")

    monkeypatch.setattr(S.Container, "lock", vanish)
    assert gc.collect(st) == []


def test_reap_with_a_status_from_the_supervisor(tmp_path):
    st = _store(tmp_path)
    c = _dead_owner(st, "l" * 64, status=S.RUNNING, pid=0, detached=True)
    gc.reap(c, 3, "exited with status 3")
    c = st.lookup("l" * 64)
    assert (c.state["exitCode"], c.state["exitReason"]) == (3, "exited with status 3")
    c = _dead_owner(st, "m" * 64, status=S.RUNNING, pid=0, detached=True, autoRemove=True)
    gc.reap(c, 0, "exited with status 0")
    assert not os.path.exists(c.path)


def test_stale_name_links(tmp_path):
    st = _store(tmp_path)
    st.ensure()
    os.symlink("n" * 64, f"{st.names_dir}/ghost")
    os.symlink("o" * 64, f"{st.names_dir}/pending")
    os.mkdir(f"{st.containers_dir}/{S.pending_name('o' * 64)}")  # being created, by us
    gc.collect(st)
    assert os.listdir(st.names_dir) == ["pending"]


# -- control.py -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,num", [("KILL", 9), ("sigterm", 15), ("SIGUSR1", 10), ("usr2", 12), ("9", 9),
                                      ("HUP", 1), ("RTMIN", 34), ("SIGRTMIN+3", 37), ("RTMAX-1", 63),
                                      ("rtmax", 64), ("64", 64)])
def test_parse_signal(text, num):
    assert control.parse_signal(text) == num


@pytest.mark.parametrize("text", ["", "0", "65", "-9", "NOPE", "SIG_DFL", "RTMIN+40", "RTMAX+1", "9x"])
def test_parse_signal_rejects(text):
    with pytest.raises(ConfigError, match=re.escape(f"signal `{text}`: unknown signal")):
        control.parse_signal(text)


def test_open_init_refuses_a_recycled_pid(tmp_path):
    st = _store(tmp_path)
    c = st.new("p" * 64)
    c.init_state(status=S.RUNNING, pid=os.getpid(), pidStart=1)  # our pid, but not our start time
    assert control.open_init(c) is None
    from nsbox.procfs import start_time

    c.write(pidStart=start_time(os.getpid()))
    fd = control.open_init(c)
    assert fd is not None
    os.close(fd)


def test_kill_and_rm_of_stopped_containers(tmp_path):
    st = _store(tmp_path)
    c = _dead_owner(st, "q" * 64, status=S.STOPPED, pid=0, exitCode=0, name="q")
    os.symlink("q" * 64, f"{st.names_dir}/q")
    with pytest.raises(Exception, match="kill `q`: container is not running"):
        control.kill(st, "q", 15)
    control.stop(st, "q")  # nothing to stop: fine
    assert control.wait(st, "q") == 0
    control.remove(st, "q")
    assert not os.path.exists(c.path) and not os.path.lexists(f"{st.names_dir}/q")


def test_rm_refuses_a_running_container(tmp_path):
    st = _store(tmp_path)
    c = st.new("r" * 64)
    from nsbox.procfs import start_time

    c.init_state(status=S.RUNNING, pid=os.getpid(), pidStart=start_time(os.getpid()))
    with pytest.raises(Exception, match=r"rm `rrrr`: container is running \(stop it first, or use rm -f\)"):
        control.remove(st, "rrrr")


# -- cli formatting ---------------------------------------------------------------------------

def test_human_durations():
    from nsbox.cli.ps import human

    assert [human(s) for s in (0.2, 1, 5, 59, 60, 150, 3600, 7200, 3 * 86400, 20 * 86400)] == [
        "Less than a second", "1 second", "5 seconds", "59 seconds", "About a minute", "2 minutes",
        "About an hour", "2 hours", "3 days", "2 weeks"]


def test_parse_time():
    from nsbox.cli.ps import parse_time

    assert parse_time("1970-01-01T00:01:00.500000000Z") == 60.5
    assert parse_time("garbage") is None and parse_time(None) is None


def test_status_and_command_text():
    from nsbox.cli.ps import command_text, status_text

    now = 1000.0
    e = {"status": "stopped", "exitCode": 3, "finished": "1970-01-01T00:16:30Z", "started": None,
         "created": None}
    assert status_text(e, now) == "Exited (3) 10 seconds ago"
    e = {"status": "running", "started": "1970-01-01T00:15:30Z", "created": None}
    assert status_text(e, now) == "Up About a minute"
    assert command_text(["sh", "-c", "echo hi"], False) == "sh -c 'echo hi'"
    assert len(command_text(["x" * 50], False)) == 30 and command_text(["x" * 50], True) == "x" * 50


def test_table_alignment():
    from nsbox.cli.ps import table

    out = table([["ID", "NAME"], ["abc", "n"]])
    assert out == "ID    NAME\nabc   n\n"
    assert table([["C"], ["a\nforged\x1b[2J"]]) == "C\na\\x0aforged\\x1b[2J\n"


def test_tail_offset(tmp_path):
    from nsbox.cli.logs import tail_offset

    p = tmp_path / "log"
    p.write_bytes(b"a\nb\nc\n")
    fd = os.open(p, os.O_RDONLY)
    try:
        assert tail_offset(fd, 1) == 4 and tail_offset(fd, 2) == 2 and tail_offset(fd, 10) == 0
        assert tail_offset(fd, 0) == 6
    finally:
        os.close(fd)
    p.write_bytes(b"a\nb\npartial")
    fd = os.open(p, os.O_RDONLY)
    try:
        assert tail_offset(fd, 1) == 4
    finally:
        os.close(fd)


# -- supervise.py -----------------------------------------------------------------------------

def test_supervisor_decodes_exit_statuses():
    from nsbox.runtime.supervise import _decode

    assert _decode(3 << 8) == (3, "exited with status 3")
    assert _decode(9) == (137, "killed by signal 9 (SIGKILL)")
    assert _decode(15) == (143, "killed by signal 15 (SIGTERM)")


def test_supervisor_imports_little():
    """The lean supervisor runs under -I -S: no nsbox module and nothing heavy until the exit."""
    from nsbox.runtime import supervise

    code = ("import sys; before = set(sys.modules); import runpy; "
            f"runpy.run_path({supervise.__file__!r}, run_name='not_main'); "
            "new = sorted(set(sys.modules) - before - {'runpy'}); print(new)")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert "nsbox" not in out.stdout and "json" not in out.stdout, out.stdout


# -- exec -------------------------------------------------------------------------------------

def _proc(**kw):
    from nsbox.spec import model

    return model.Process(args=("sh",), env=("PATH=/bin", "HOME=/root", "A=1"), **kw)


def test_exec_environment(tmp_path, monkeypatch):
    from nsbox.runtime.exec import environment
    from nsbox.specgen.options import ExecOptions

    envfile = tmp_path / "env"
    envfile.write_text("# comment\nB=file\n\nA=file\n")
    monkeypatch.setenv("PASSED", "ours")
    monkeypatch.delenv("NOT_SET", raising=False)
    env = environment(_proc(), ExecOptions(container="x", command=("sh",), env_file=(str(envfile),),
                                           env=("A=flag", "PASSED", "NOT_SET", "C=x=y")))
    assert env == ("PATH=/bin", "HOME=/root", "A=flag", "B=file", "PASSED=ours", "C=x=y")
    env = environment(_proc(), ExecOptions(container="x", command=("sh",), tty=True))
    assert any(e.startswith("TERM=") for e in env)
    with pytest.raises(ConfigError, match="-e `=x`: expected KEY=VALUE"):
        environment(_proc(), ExecOptions(container="x", command=("sh",), env=("=x",)))
    with pytest.raises(ConfigError, match="--env-file `/nonexistent`"):
        environment(_proc(), ExecOptions(container="x", command=("sh",), env_file=("/nonexistent",)))


def test_exec_checks():
    from nsbox.runtime.exec import check
    from nsbox.specgen.options import ExecOptions

    for kw, msg in (({"command": ()}, "no command given"), ({"workdir": "tmp"}, "must be an absolute path"),
                    ({"detach": True, "tty": True}, "-t cannot be used with -d")):
        with pytest.raises(ConfigError, match=msg):
            check(ExecOptions(**{"container": "x", "command": ("sh",), **kw}))


def test_namespace_flags_of_ourselves_is_zero():
    from nsbox.runtime.exec import namespace_flags

    assert namespace_flags(os.getpid()) == 0


def test_user_lookup_inside(tmp_path, monkeypatch):
    from nsbox.runtime import join
    from nsbox.runtime.join import ExecRequest
    from nsbox.spec import model

    (tmp_path / "passwd").write_text("root:x:0:0::/root:/bin/sh\nweb:x:33:44::/srv:/bin/sh\n")
    (tmp_path / "group").write_text("root:x:0:\nstaff:x:50:\n")
    real = join.read_db
    monkeypatch.setattr(join, "read_db", lambda p: real(str(tmp_path / os.path.basename(p))))

    class L:
        process = _proc()
        allow_setgroups = False  # supplementary groups: see test_exec_user (integration)

    def resolve(spec: str) -> model.User:
        req = ExecRequest(L(), 1, 0, "x")
        req.user, req.home_from_user = spec, True
        join.resolve_user(req)
        env = dict(e.split("=", 1) for e in req.launch.process.env)
        return req.launch.process.user, env["HOME"]

    assert resolve("web") == (model.User(uid=33, gid=44), "/srv")
    assert resolve("33:staff") == (model.User(uid=33, gid=50), "/srv")
    assert resolve("1234") == (model.User(uid=1234, gid=1234), "/")
    assert resolve("0:7") == (model.User(uid=0, gid=7), "/root")
    with pytest.raises(ConfigError, match="no user `nobody`"):
        resolve("nobody")
    with pytest.raises(ConfigError, match="no group `wheel`"):
        resolve("web:wheel")


def test_read_db_refuses_a_fifo(tmp_path):
    from nsbox.runtime.join import read_db

    os.mkfifo(tmp_path / "passwd")
    assert read_db(str(tmp_path / "passwd")) == []  # and did not block


def test_close_fds_except(tmp_path):
    code = (f"import os, sys; sys.path.insert(0, {os.getcwd()!r}); from nsbox.runtime.join import close_fds_except\n"
            "fds = [os.open('/dev/null', os.O_RDONLY) for _ in range(6)]\n"
            "close_fds_except(fds[1], fds[4])\n"
            "print(sorted(int(x) for x in os.listdir('/proc/self/fd') if int(x) > 2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    kept = [int(x) for x in out.strip(" []\n").split(",")]
    assert len(kept) == 3  # the two kept, and listdir's own directory fd


def test_procs_files(tmp_path):
    from nsbox.runtime.joincg import procs_files

    base = tmp_path / "cg"
    for h in ("memory", "pids", "cpu,cpuacct"):
        (base / h / "nsbox" / "x").mkdir(parents=True)
        (base / h / "nsbox" / "x" / "cgroup.procs").write_text("")
    (base / "cpu").symlink_to("cpu,cpuacct")
    (base / "unused").mkdir()
    got = procs_files("/nsbox/x", str(base))
    assert sorted(os.path.relpath(p, base) for p in got) == sorted(
        f"{h}/nsbox/x/cgroup.procs" for h in ("memory", "pids", "cpu"))  # cpu,cpuacct once
    v2 = tmp_path / "v2"
    (v2 / "nsbox" / "x").mkdir(parents=True)
    (v2 / "nsbox" / "x" / "cgroup.procs").write_text("")
    assert procs_files("/nsbox/x", str(v2)) == [f"{v2}/nsbox/x/cgroup.procs"]


def test_refuse_self_exe(tmp_path):
    from nsbox.errors import ExecError
    from nsbox.runtime.process import refuse_self_exe

    script = tmp_path / "evil"
    script.write_text("#!/proc/self/exe\n")
    nested = tmp_path / "evil2"
    nested.write_text(f"#!{script}\n")
    ok = tmp_path / "fine"
    ok.write_text("#!/bin/sh\n")
    # (tmp_path is writable: the interpreter reached through it would be too)
    for target in ("/proc/self/exe", str(script), str(nested)):
        with pytest.raises(ExecError, match="CVE-2019-5736"):
            refuse_self_exe(target, target)
    assert refuse_self_exe(str(ok), "fine") == str(ok)
    assert refuse_self_exe("/bin/sh", "sh") == "/bin/sh"


def test_cgroup_plan(tmp_path):
    from nsbox.runtime.joincg import cgroup_plan

    hybrid = tmp_path / "hybrid"
    for h in ("memory", "pids"):
        d = hybrid / h / "nsbox" / "x"
        d.mkdir(parents=True)
        (d / "cgroup.procs").write_text("")
        (d / "tasks").write_text("")  # v1
    (hybrid / "unified" / "nsbox" / "x").mkdir(parents=True)
    (hybrid / "unified" / "nsbox" / "x" / "cgroup.procs").write_text("")
    plan = cgroup_plan(["/nsbox/x"], str(hybrid))
    assert sorted(os.path.relpath(t, hybrid) for t in plan.self_join) == ["memory/nsbox/x/tasks",
                                                                            "pids/nsbox/x/tasks"]
    assert plan.into == f"{hybrid}/unified/nsbox/x" and not plan.needs_parent
    v2 = tmp_path / "v2"
    (v2 / "nsbox" / "x").mkdir(parents=True)
    (v2 / "nsbox" / "x" / "cgroup.procs").write_text("")
    plan = cgroup_plan(["/nsbox/x"], str(v2))
    assert plan.self_join == [] and plan.into == f"{v2}/nsbox/x"
    plan = cgroup_plan(["/elsewhere"], str(v2))
    assert plan.into is None and plan.parent_unknown == ["/elsewhere"] and plan.needs_parent
    assert cgroup_plan([], str(v2)).needs_parent is False
