"""nsbox-runc: every command and the OCI lifecycle (runtime.md), on bundles made by
``nsbox-runc spec``; the error cases of each operation; hooks; a SIGKILLed create."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid

import pytest

from tests.conftest import IS_ROOT, SESSION
from tests.integration.runc_helpers import (
    Runc,
    alive,
    cgroup_dirs,
    make_bundle,
    unique,
    wait_for,
)

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def rc():
    """nsbox-runc on a private --root.  The containers outlive the nsbox-runc that made
    them and are reparented to the machine's init (a shim or conmon would be their
    subreaper), which reaps them: a zombie counts as stopped."""
    if not IS_ROOT:
        pytest.skip("needs root")
    r = Runc(f"/run/nsbox-runc-test-{SESSION}")
    yield r
    r.cleanup()
    subprocess.run(["rm", "-rf", r.root])


@pytest.fixture
def bundle(tmp_path, busybox_rootfs, rc):
    def make(args, cid=None, edit=None, name="b"):
        return make_bundle(str(tmp_path / name), busybox_rootfs, args, runc=rc, cid=cid, edit=edit)
    return make


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode().split("\0")[:-1]


def test_spec_writes_a_default_config_once(rc, tmp_path):
    rc.run("spec", "--bundle", str(tmp_path), check=True)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["ociVersion"] == "1.3.0"
    assert cfg["root"]["path"] == "rootfs" and cfg["process"]["args"] == ["sh"]
    assert {n["type"] for n in cfg["linux"]["namespaces"]} == {"pid", "network", "ipc", "uts", "mount", "cgroup"}
    r = rc.run("spec", "--bundle", str(tmp_path))
    assert r.returncode == 1 and "already exists" in r.stderr
    rl = tmp_path / "rl"
    rl.mkdir()
    rc.run("spec", "--rootless", "--bundle", str(rl), check=True)
    cfg = json.loads((rl / "config.json").read_text())
    types = {n["type"] for n in cfg["linux"]["namespaces"]}
    assert "user" in types and "network" not in types
    assert cfg["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 0, "size": 1}]


def test_features_follow_features_md(rc):
    f = json.loads(rc.run("features", check=True).stdout)
    assert f["ociVersionMin"] == "1.0.0" and f["ociVersionMax"] == "1.3.0"
    assert f["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                          "poststop"]
    assert {"bind", "rbind", "ro", "nosuid", "rprivate"} <= set(f["mountOptions"])
    linux = f["linux"]
    assert set(linux["namespaces"]) == {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"}
    assert "CAP_SYS_ADMIN" in linux["capabilities"]
    assert linux["cgroup"]["systemd"] is False and linux["cgroup"]["v1"] is True
    assert "SCMP_ACT_ERRNO" in linux["seccomp"]["actions"]
    assert linux["apparmor"]["enabled"] is False and linux["selinux"]["enabled"] is False


def test_lifecycle_create_start_state_kill_delete(rc, bundle, tmp_path):
    cid = unique()
    b = bundle(["sleep", "60"], cid)
    pid_file = tmp_path / "pid"
    rc.run("create", "--bundle", b, "--pid-file", str(pid_file), cid, check=True)
    st = rc.state(cid)
    assert st["status"] == "created" and st["id"] == cid and st["bundle"] == b
    assert st["ociVersion"] == "1.3.0" and "annotations" in st
    pid = int(pid_file.read_text())
    assert st["pid"] == pid and alive(pid)
    assert cmdline(pid)[:2] != ["sleep", "60"]  # waiting before execve: the program has not run
    rc.run("start", cid, check=True)
    assert rc.status(cid) == "running"
    wait_for(lambda: cmdline(pid) == ["sleep", "60"], what="execve of the user program")
    rc.run("kill", cid, "KILL", check=True)
    wait_for(lambda: rc.status(cid) == "stopped", what="stopped")
    assert rc.state(cid)["pid"] == 0
    cg = rc.run("state", cid).stdout
    rc.run("delete", cid, check=True)
    assert rc.run("state", cid).returncode == 1
    assert not os.path.exists(f"{rc.root}/containers/{cid}")
    assert json.loads(cg)["status"] == "stopped"


def test_lifecycle_errors(rc, bundle):
    cid = unique()
    b = bundle(["sleep", "60"], cid)
    for verb in (["state"], ["start"], ["kill"], ["delete"], ["pause"], ["exec"], ["ps"]):
        r = rc.run(*verb, "no-such-container")
        assert r.returncode == 1 and "does not exist" in r.stderr, verb
    assert rc.run("delete", "--force", "no-such-container").returncode == 0
    rc.run("create", "--bundle", b, cid, check=True)
    r = rc.run("create", "--bundle", b, cid)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = rc.run("delete", cid)  # created, not stopped: an error, and no effect
    assert r.returncode == 1 and "not stopped" in r.stderr and rc.status(cid) == "created"
    rc.run("start", cid, check=True)
    r = rc.run("start", cid)  # running, not created
    assert r.returncode == 1 and "not created" in r.stderr and rc.status(cid) == "running"
    r = rc.run("delete", cid)
    assert r.returncode == 1 and rc.status(cid) == "running"
    rc.run("kill", cid, "SIGKILL", check=True)  # (PID 1 of its namespace ignores an unhandled TERM)
    wait_for(lambda: rc.status(cid) == "stopped", what="stopped")
    r = rc.run("kill", cid, "TERM")
    assert r.returncode == 1 and "stopped" in r.stderr
    r = rc.run("start", cid)
    assert r.returncode == 1 and "stopped" in r.stderr
    rc.run("delete", cid, check=True)


def test_kill_a_created_container_and_delete_force(rc, bundle):
    cid = unique()
    b = bundle(["sleep", "60"], cid)
    rc.run("create", "--bundle", b, cid, check=True)
    pid = rc.state(cid)["pid"]
    rc.run("kill", cid, "9", check=True)
    wait_for(lambda: not alive(pid), what="init killed")
    assert rc.status(cid) == "stopped"
    rc.run("delete", cid, check=True)
    cid2 = unique()
    b2 = bundle(["sleep", "60"], cid2, name="b2")
    rc.run("run", "--detach", "--bundle", b2, cid2, check=True)
    pid2 = rc.state(cid2)["pid"]
    path = json.load(open(f"{b2}/config.json"))["linux"]["cgroupsPath"]
    assert cgroup_dirs(path)
    rc.run("delete", "--force", cid2, check=True)
    assert not alive(pid2) and not cgroup_dirs(path)


def test_invalid_ids_and_configs(rc, bundle, tmp_path):
    b = bundle(["true"])
    r = rc.run("create", "--bundle", b, "../evil")
    assert r.returncode == 1 and "container id" in r.stderr

    def bad_map(cfg):
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 0}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1}]
    b = bundle(["true"], edit=bad_map, name="bad")
    r = rc.run("create", "--bundle", b, unique())
    assert r.returncode == 1 and "linux.uidMappings[0].size: must be > 0" in r.stderr
    b = bundle(["true"], edit=lambda c: c["process"].update(cwd="relative"), name="cwd")
    r = rc.run("create", "--bundle", b, unique())
    assert r.returncode == 1 and "process.cwd" in r.stderr
    b = bundle(["true"], edit=lambda c: c["linux"].update(intelRdt={"closID": "x"}), name="rdt")
    r = rc.run("create", "--bundle", b, unique())
    assert r.returncode == 1 and "linux.intelRdt" in r.stderr
    b = bundle(["true"], edit=lambda c: c.update(unknownProperty={"x": 1}), name="unknown")
    assert rc.run("run", "--bundle", b, unique()).returncode == 0  # unknown properties are ignored
    r = rc.run("create", "--bundle", str(tmp_path / "nowhere"), unique())
    assert r.returncode == 1 and "config.json" in r.stderr
    assert rc.run("list", "-q").stdout.split() == [] or all(
        rc.status(c) != "creating" for c in rc.run("list", "-q").stdout.split())


def test_run_returns_the_exit_status_and_removes_the_container(rc, bundle):
    cid = unique()
    b = bundle(["sh", "-c", "echo out; echo err >&2; exit 7"], cid)
    r = rc.run("run", "--bundle", b, cid)
    assert r.returncode == 7 and r.stdout == "out\n" and "err" in r.stderr
    assert cid not in rc.run("list", "-q").stdout.split()
    path = json.load(open(f"{b}/config.json"))["linux"]["cgroupsPath"]
    assert not cgroup_dirs(path)
    b = bundle(["no-such-program"], name="b2")
    r = rc.run("run", "--bundle", b, unique())
    assert r.returncode != 0 and "no-such-program" in r.stderr


def test_exec_inline_process_file_and_detach(rc, bundle, tmp_path):
    cid = unique()
    b = bundle(["sleep", "60"], cid)
    rc.run("run", "-d", "--bundle", b, cid, check=True)
    r = rc.run("exec", "--user", "1000:1000", "--cwd", "/tmp", "--env", "FOO=bar", cid,
               "sh", "-c", "id -u; id -g; pwd; echo $FOO; exit 3")
    assert r.returncode == 3 and r.stdout.split() == ["1000", "1000", "/tmp", "bar"]
    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"args": ["sh", "-c", "echo $A; cat /proc/1/cmdline"], "env": ["A=from-json"],
                                "cwd": "/", "user": {"uid": 0, "gid": 0}}))
    r = rc.run("exec", "--process", str(proc), cid, check=True)
    assert r.stdout.startswith("from-json\nsleep")
    pid_file = tmp_path / "exec.pid"
    rc.run("exec", "--detach", "--pid-file", str(pid_file), cid, "sleep", "30", check=True)
    epid = int(pid_file.read_text())
    assert alive(epid) and epid in json.loads(rc.run("ps", "--format", "json", cid, check=True).stdout)
    r = rc.run("exec", cid)
    assert r.returncode == 1 and "no command" in r.stderr
    rc.run("delete", "-f", cid, check=True)
    wait_for(lambda: not alive(epid), what="exec'd process killed with the container")


def test_ps_and_list(rc, bundle):
    cid = unique()
    b = bundle(["sleep", "60"], cid)
    rc.run("run", "-d", "--bundle", b, cid, check=True)
    pid = rc.state(cid)["pid"]
    assert json.loads(rc.run("ps", "--format", "json", cid, check=True).stdout) == [pid]
    table = rc.run("ps", cid, check=True).stdout.splitlines()
    assert "PID" in table[0] and any(str(pid) in line and "sleep" in line for line in table[1:])
    assert cid in rc.run("list", "-q", check=True).stdout.split()
    entries = {e["id"]: e for e in json.loads(rc.run("list", "--format", "json", check=True).stdout)}
    assert entries[cid]["status"] == "running" and entries[cid]["pid"] == pid and entries[cid]["bundle"] == b
    table = rc.run("list", check=True).stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "PID", "STATUS"] and any(line.startswith(cid) for line in table)
    rc.run("delete", "-f", cid, check=True)


def test_pause_and_resume(rc, bundle):
    cid = unique()
    b = bundle(["sleep", "60"], cid)
    rc.run("run", "-d", "--bundle", b, cid, check=True)
    pid = rc.state(cid)["pid"]
    rc.run("pause", cid, check=True)
    assert rc.status(cid) == "paused"
    with open(f"/proc/{pid}/stat") as f:
        assert f.read().rsplit(")", 1)[1].split()[0] in ("D", "S", "T")
    r = rc.run("pause", cid)
    assert r.returncode == 1 and "paused" in r.stderr
    rc.run("resume", cid, check=True)
    assert rc.status(cid) == "running"
    r = rc.run("resume", cid)
    assert r.returncode == 1
    rc.run("delete", "-f", cid, check=True)


def test_update_and_events(rc, bundle):
    cid = unique()
    b = bundle(["sleep", "60"], cid)
    rc.run("run", "-d", "--bundle", b, cid, check=True)
    path = json.load(open(f"{b}/config.json"))["linux"]["cgroupsPath"]
    rc.run("update", "--memory", "64m", "--pids-limit", "42", cid, check=True)
    assert open(f"/sys/fs/cgroup/pids{path}/pids.max").read().strip() == "42"
    mem = f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"
    if os.path.exists(mem):
        assert open(mem).read().strip() == str(64 << 20)
    rc.run("update", "--resources", "-", cid, input=json.dumps({"pids": {"limit": 17}}), check=True)
    assert open(f"/sys/fs/cgroup/pids{path}/pids.max").read().strip() == "17"
    ev = json.loads(rc.run("events", "--stats", cid, check=True).stdout)
    assert ev["type"] == "stats" and ev["id"] == cid
    assert ev["data"]["pids"]["current"] == 1 and ev["data"]["cpu"]["usage"]["total"] > 0
    r = rc.run("update", "--pids-limit", "many", cid)
    assert r.returncode == 1 and "--pids-limit" in r.stderr
    rc.run("delete", "-f", cid, check=True)


def test_console_socket_receives_the_pty_master(rc, bundle, tmp_path):
    cid = unique()

    def tty(cfg):
        cfg["process"]["terminal"] = True
        cfg["process"]["args"] = ["sh", "-c", "tty; read x; echo got $x"]
    b = bundle([], cid, edit=tty)
    sock_path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    r = rc.run("create", "--bundle", b, cid)
    assert r.returncode == 1 and "--console-socket" in r.stderr  # a terminal needs somewhere to go
    rc.run("create", "--bundle", b, "--console-socket", sock_path, cid, check=True)
    conn, _ = srv.accept()
    msg, fds, _flags, _addr = socket.recv_fds(conn, 1024, 1)
    conn.close()
    srv.close()
    assert len(fds) == 1
    master = fds[0]
    rc.run("start", cid, check=True)
    os.write(master, b"hello\n")
    out = b""
    end = time.monotonic() + 10
    while b"got hello" not in out and time.monotonic() < end:
        try:
            out += os.read(master, 1024)
        except OSError:
            break
    os.close(master)
    assert b"/dev/pts/" in out and b"got hello" in out
    rc.run("delete", "-f", cid, check=True)


def test_preserve_fds(rc, bundle, tmp_path):
    cid = unique()
    b = bundle(["sh", "-c", "echo via-fd-3 >&3"], cid)
    out = tmp_path / "fd3"
    # fd 3 of nsbox-runc is the file (a shell opens it for us, as a socket-activation manager would)
    r = subprocess.run(["sh", "-c", f'exec "$@" 3>{out}', "sh", *rc.argv("run", "--preserve-fds", "1",
                                                                         "--bundle", b, cid)],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "via-fd-3\n"


def test_log_file_and_refusals(rc, tmp_path):
    log = tmp_path / "log.json"
    r = rc.run("--log", str(log), "--log-format", "json", "state", "nope")
    assert r.returncode == 1
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "does not exist" in entry["msg"]
    r = rc.run("--systemd-cgroup", "list")
    assert r.returncode == 1 and "systemd" in r.stderr
    for verb in ("checkpoint", "restore"):
        r = rc.run(verb, "x")
        assert r.returncode == 1 and "CRIU" in r.stderr
    assert rc.run("--version", check=True).stdout.startswith("nsbox-runc version")
    assert rc.run("bogus").returncode == 2


HOOK = """#!/bin/sh
cat > {out}/{name}.json
readlink /proc/self/ns/mnt > {out}/{name}.mnt
{extra}
"""


def write_hook(directory, name: str, extra: str = "") -> str:
    path = f"{directory}/{name}.sh"
    with open(path, "w") as f:
        f.write(HOOK.format(out=directory, name=name, extra=extra))
    os.chmod(path, 0o755)
    return path


def test_hooks_every_stage_gets_the_state(rc, bundle, tmp_path, busybox_rootfs):
    cid = unique()
    out = tmp_path / "hooks"
    out.mkdir()
    stages = ("prestart", "createRuntime", "createContainer", "poststart", "poststop")
    inside = out / "inside"
    inside.mkdir()

    def hooks(cfg):
        # (where the container's root is when the hook runs: "/" before pivot_root)
        root = (f"pid=$(sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/' {out}/{{s}}.json); "
                f"readlink /proc/$pid/root > {out}/{{s}}.root")
        cfg["hooks"] = {s: [{"path": write_hook(out, s, root.format(s=s)), "args": [s, "arg1"], "env": ["X=1"],
                             "timeout": 10}] for s in stages}
        # createContainer runs in the container's namespaces before pivot_root: the host's paths still resolve
        # startContainer resolves in the container: its script is in a directory bound into it
        with open(inside / "start.sh", "w") as f:
            f.write("#!/bin/sh\ncat > /hookdir/startContainer.json\nreadlink /proc/self/ns/mnt > "
                    "/hookdir/startContainer.mnt\n")
        os.chmod(inside / "start.sh", 0o755)
        cfg["hooks"]["startContainer"] = [{"path": "/hookdir/start.sh"}]
        cfg["mounts"].append({"destination": "/hookdir", "type": "bind", "source": str(inside),
                              "options": ["rbind", "rw"]})
    b = bundle(["sleep", "60"], cid, edit=hooks)
    rc.run("create", "--bundle", b, cid, check=True)
    pid = rc.state(cid)["pid"]
    for s in ("prestart", "createRuntime", "createContainer"):
        st = json.loads((out / f"{s}.json").read_text())
        assert st["id"] == cid and st["pid"] == pid and st["bundle"] == b and st["status"] == "creating", s
    assert not (out / "poststart.json").exists()
    for s in ("prestart", "createRuntime", "createContainer"):  # before pivot_root (config.md)
        assert (out / f"{s}.root").read_text().strip() == "/", s
    host_mnt = os.readlink("/proc/self/ns/mnt")
    ctr_mnt = os.readlink(f"/proc/{pid}/ns/mnt")
    assert (out / "prestart.mnt").read_text().strip() == host_mnt
    assert (out / "createContainer.mnt").read_text().strip() == ctr_mnt
    rc.run("start", cid, check=True)
    st = json.loads((inside / "startContainer.json").read_text())
    assert st["id"] == cid and (inside / "startContainer.mnt").read_text().strip() == ctr_mnt
    assert json.loads((out / "poststart.json").read_text())["status"] == "running"
    rc.run("kill", cid, "KILL", check=True)
    wait_for(lambda: rc.status(cid) == "stopped", what="stopped")
    rc.run("delete", cid, check=True)
    st = json.loads((out / "poststop.json").read_text())
    assert st["id"] == cid and st["status"] == "stopped"


@pytest.mark.parametrize("stage", ["prestart", "createRuntime", "createContainer"])
def test_a_failing_create_hook_fails_create_and_leaves_nothing(rc, bundle, tmp_path, stage):
    cid = unique()
    hook = tmp_path / "fail.sh"
    hook.write_text("#!/bin/sh\necho hook says no >&2\nexit 3\n")
    hook.chmod(0o755)
    b = bundle(["sleep", "60"], cid, edit=lambda c: c.update(hooks={stage: [{"path": str(hook)}]}))
    r = rc.run("create", "--bundle", b, cid)
    assert r.returncode == 1 and "exit status 3" in r.stderr and "hook says no" in r.stderr
    assert cid not in rc.run("list", "-q").stdout.split()
    path = json.load(open(f"{b}/config.json"))["linux"]["cgroupsPath"]
    assert not cgroup_dirs(path)


def test_hook_timeout_poststart_failure_and_poststop_warning(rc, bundle, tmp_path):
    slow = tmp_path / "slow.sh"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    cid = unique()
    b = bundle(["sleep", "60"], cid, edit=lambda c: c.update(hooks={"createRuntime": [{"path": str(slow),
                                                                                          "timeout": 1}]}))
    t0 = time.monotonic()
    r = rc.run("create", "--bundle", b, cid)
    assert r.returncode == 1 and "timed out" in r.stderr and time.monotonic() - t0 < 15
    assert cid not in rc.run("list", "-q").stdout.split()
    cid = unique()
    b = bundle(["sleep", "60"], cid, name="b2", edit=lambda c: c.update(hooks={
        "poststart": [{"path": "/bin/false"}], "poststop": [{"path": "/bin/false"}]}))
    rc.run("create", "--bundle", b, cid, check=True)
    r = rc.run("start", cid)
    assert r.returncode == 1 and "poststart" in r.stderr
    wait_for(lambda: rc.status(cid) == "stopped", what="container stopped after its poststart hook failed")
    r = rc.run("delete", cid)
    assert r.returncode == 0 and "warning" in r.stderr and "poststop" in r.stderr
    assert cid not in rc.run("list", "-q").stdout.split()


def test_sigkill_of_create_at_any_moment_then_delete_force_leaves_nothing(rc, bundle, tmp_path):
    slow = tmp_path / "slow.sh"
    slow.write_text("#!/bin/sh\nsleep 0.3\n")
    slow.chmod(0o755)
    for delay in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45):
        cid = unique()
        b = bundle(["sleep", "60"], cid, name=cid, edit=lambda c: c.update(
            hooks={"createRuntime": [{"path": str(slow)}]}))
        path = json.load(open(f"{b}/config.json"))["linux"]["cgroupsPath"]
        p = subprocess.Popen(rc.argv("create", "--bundle", b, cid), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        state = rc.run("state", cid)
        pid = json.loads(state.stdout)["pid"] if state.returncode == 0 else 0
        assert rc.run("delete", "--force", cid).returncode == 0
        assert not os.path.exists(f"{rc.root}/containers/{cid}"), delay
        assert not [e for e in os.listdir(f"{rc.root}/containers") if cid in e], delay
        wait_for(lambda path=path: not cgroup_dirs(path), timeout=5, what=f"cgroup removed (delay {delay})")
        if pid:
            wait_for(lambda pid=pid: not alive(pid), timeout=5, what="init gone")


@pytest.mark.rootless
def test_rootless_lifecycle(rootless_user, busybox_rootfs, shared_tmp):
    from pathlib import Path

    pw, nsbox = rootless_user  # (an install the user can reach: nsbox-runc is next to nsbox)
    d = Path(shared_tmp)
    r = Runc(f"/tmp/nsbox-runc-test-{SESSION}-{pw.pw_uid}", pw, binary=str(Path(nsbox).parent / "nsbox-runc"))
    if not os.access(r.binary, os.X_OK) or subprocess.run(r.argv("--version")).returncode != 0:
        pytest.fail(f"{r.binary} is not reachable by {pw.pw_name}")
    cid = unique()
    b = make_bundle(str(d / "b"), busybox_rootfs, ["sh", "-c", "id -u; cat /proc/self/uid_map"], runc=r)
    out = r.run("run", "--bundle", b, cid, check=True).stdout.split()
    assert out[:4] == ["0", "0", str(pw.pw_uid), "1"]
    b = make_bundle(str(d / "b2"), busybox_rootfs, ["sleep", "60"], runc=r)
    r.run("create", "--bundle", b, cid, check=True)
    assert r.status(cid) == "created"
    r.run("start", cid, check=True)
    assert r.status(cid) == "running"
    assert r.run("exec", cid, "id", "-u", check=True).stdout == "0\n"
    r.run("kill", cid, "KILL", check=True)
    wait_for(lambda: r.status(cid) == "stopped", what="stopped")
    r.run("delete", cid, check=True)
    assert r.run("list", "-q", check=True).stdout == ""
    subprocess.run(["rm", "-rf", r.root])


def test_process_attributes_and_sysctl(rc, bundle):
    cid = unique()

    def attrs(cfg):
        cfg["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
        cfg["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 7}
        cfg["process"]["execCPUAffinity"] = {"final": "0"}
        cfg["linux"]["personality"] = {"domain": "LINUX32"}
        cfg["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
        cfg["linux"]["sysctl"] = {"kernel.shmmax": "1234567", "net.ipv4.ip_forward": "1"}
    b = bundle(["sh", "-c", "uname -m; grep ^policy /proc/self/sched; ionice; grep -o 'bind:0' /proc/self/numa_maps "
                "| head -1; cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward; sleep 60"], cid, edit=attrs)
    rc.run("run", "-d", "--bundle", b, cid, check=True)
    wait_for(lambda: "sleep" in " ".join(cmdline(rc.state(cid)["pid"])), what="the process to run")
    pid = rc.state(cid)["pid"]
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    assert fields[16] == "5" and fields[38] == "3"  # nice 5, SCHED_BATCH (proc(5) stat fields 19 and 41)
    r = rc.run("exec", cid, "sh", "-c", "uname -m; grep Cpus_allowed_list /proc/self/status; ionice", check=True)
    assert r.stdout.split()[0] == "i686" and "Cpus_allowed_list:\t0" in r.stdout and "idle" in r.stdout
    rc.run("delete", "-f", cid, check=True)
    cid = unique()
    b = bundle(["sh", "-c", "uname -m; cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward; ionice"], cid,
               edit=attrs, name="b2")
    r = rc.run("run", "--bundle", b, cid, check=True)
    assert r.stdout.split()[:3] == ["i686", "1234567", "1"] and "idle" in r.stdout
    assert os.uname().machine != "i686" and open("/proc/sys/kernel/shmmax").read().strip() != "1234567"


@pytest.mark.parametrize("edit,path", [
    (lambda c: c["linux"].update(sysctl={"kernel.panic": "1"}), "linux.sysctl.kernel.panic"),
    (lambda c: c["linux"].update(personality={"domain": "BSD"}), "linux.personality.domain"),
    (lambda c: c["process"].update(scheduler={"policy": "SCHED_FAST"}), "process.scheduler.policy"),
    (lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 9}),
     "process.ioPriority.priority"),
    (lambda c: c["linux"].update(memoryPolicy={"mode": "MPOL_BIND", "nodes": "x"}), "linux.memoryPolicy.nodes"),
    (lambda c: c["linux"].update(netDevices={"nsbox-none0": {}}), "linux.netDevices.nsbox-none0"),
    (lambda c: c["mounts"].append({"destination": "/m", "type": "bind", "source": "/tmp", "options": ["idmap"]}),
     "mounts[7]"),  # idmap without mappings, and no user namespace to take them from
    (lambda c: c["mounts"].append({"destination": "/m", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"],
                                   "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
                                   "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}),
     "mounts[7]"),  # only a bind can be idmapped
])
def test_refused_values_name_their_json_path(rc, bundle, edit, path):
    b = bundle(["true"], edit=edit)
    cid = unique()
    r = rc.run("create", "--bundle", b, cid)
    assert r.returncode == 1 and f"{path}:" in r.stderr, r.stderr
    assert cid not in rc.run("list", "-q").stdout.split()


def test_idmapped_mounts(rc, bundle, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "f").write_text("data")
    os.chown(src / "f", 0, 0)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(src / "sub")], check=True)
    try:
        (src / "sub" / "g").write_text("x")
        os.chown(src / "sub" / "g", 5001, 5001)

        def mounts(cfg):
            m = {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
                 "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 10}]}
            cfg["mounts"].append({"destination": "/m", "type": "bind", "source": str(src), "options": ["bind", "idmap"],
                                  **m})
            cfg["mounts"].append({"destination": "/r", "type": "bind", "source": str(src),
                                  "options": ["rbind", "ridmap"],
                                  "uidMappings": [{"containerID": 5000, "hostID": 7000, "size": 10}],
                                  "gidMappings": [{"containerID": 5000, "hostID": 7000, "size": 10}]})
        b = bundle(["sh", "-c", "stat -c '%u:%g' /m/f /r/sub/g; cat /m/f"], edit=mounts)
        r = rc.run("run", "--bundle", b, unique(), check=True)
        # on-disk ids are mapped as a user namespace with the mount's maps maps them (0 -> 1000/2000)
        assert r.stdout.split() == ["1000:2000", "7001:7001", "data"]
        assert os.stat(src / "f").st_uid == 0  # the source itself is unchanged
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)


def test_exec_tty_through_the_console_socket(rc, bundle, tmp_path):
    cid = unique()
    b = bundle(["sleep", "60"], cid)
    rc.run("run", "-d", "--bundle", b, cid, check=True)
    sock_path = str(tmp_path / "exec.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    pid_file = tmp_path / "exec.pid"
    rc.run("exec", "--tty", "--detach", "--console-socket", sock_path, "--pid-file", str(pid_file), cid,
           "sh", "-c", "tty; read x; echo got $x", check=True)
    conn, _ = srv.accept()
    _msg, fds, _f, _a = socket.recv_fds(conn, 1024, 1)
    conn.close()
    srv.close()
    master = fds[0]
    os.write(master, b"there\n")
    out = b""
    end = time.monotonic() + 10
    while b"got there" not in out and time.monotonic() < end:
        try:
            out += os.read(master, 1024)
        except OSError:
            break
    os.close(master)
    assert b"/dev/pts/" in out and b"got there" in out
    assert int(pid_file.read_text()) > 0
    r = rc.run("exec", "--tty", "--detach", cid, "true")
    assert r.returncode == 1 and "--console-socket" in r.stderr
    rc.run("delete", "-f", cid, check=True)


def test_pause_and_resume_a_created_container(rc, bundle):
    cid = unique()
    b = bundle(["sleep", "60"], cid)
    rc.run("create", "--bundle", b, cid, check=True)
    rc.run("pause", cid, check=True)
    assert rc.status(cid) == "paused"
    assert rc.run("start", cid).returncode == 1
    rc.run("resume", cid, check=True)
    assert rc.status(cid) == "created"
    rc.run("start", cid, check=True)
    assert rc.status(cid) == "running"
    rc.run("delete", "-f", cid, check=True)


def test_net_devices_are_moved_renamed_and_keep_their_addresses(rc, bundle):
    dev = f"nsbx{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "link", "add", dev, "type", "veth", "peer", "name", f"{dev}p"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.213.7.1/24", "dev", dev], check=True)
        cid = unique()
        b = bundle(["sh", "-c", "ip -o addr show eth7; ip -o link show eth7"], cid,
                   edit=lambda c: c["linux"].update(netDevices={dev: {"name": "eth7"}}))
        r = rc.run("run", "--bundle", b, cid, check=True)
        assert "10.213.7.1/24" in r.stdout and ",UP" in r.stdout
        # a virtual device goes with the container's network namespace (never moved back): its peer too
        wait_for(lambda: subprocess.run(["ip", "link", "show", f"{dev}p"], capture_output=True).returncode != 0,
                 what="the dummy device destroyed with the namespace")
    finally:
        subprocess.run(["ip", "link", "del", dev], capture_output=True)


def test_state_is_creating_while_create_runs(rc, bundle, tmp_path):
    slow = tmp_path / "slow.sh"
    slow.write_text("#!/bin/sh\nsleep 1\n")
    slow.chmod(0o755)
    cid = unique()
    b = bundle(["sleep", "60"], cid, edit=lambda c: c.update(hooks={"createRuntime": [{"path": str(slow)}]}))
    p = subprocess.Popen(rc.argv("create", "--bundle", b, cid), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: rc.run("state", cid).returncode == 0 and rc.status(cid) == "creating", what="creating")
        st = rc.state(cid)
        assert st["id"] == cid and st["bundle"] == b
        r = rc.run("delete", cid)  # not stopped: refused, no effect
        assert r.returncode == 1 and "creating" in r.stderr
        assert rc.run("start", cid).returncode == 1
    finally:
        assert p.wait(timeout=30) == 0
    assert rc.status(cid) == "created"
    rc.run("delete", "-f", cid, check=True)


def test_capabilities_that_cannot_be_granted_are_warnings(rc, bundle):
    def caps(cfg):
        for field in ("bounding", "effective", "permitted"):
            cfg["process"]["capabilities"][field] += ["CAP_NOT_A_CAPABILITY", "CAP_SYS_RESOURCE"]
    b = bundle(["sh", "-c", "grep CapEff /proc/self/status"], edit=caps)
    r = rc.run("run", "--bundle", b, unique())
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "CAP_NOT_A_CAPABILITY" in r.stderr
    with open("/proc/self/status") as f:
        held = int(next(line for line in f if line.startswith("CapBnd:")).split()[1], 16)
    eff = int(r.stdout.split()[1], 16)
    assert bool(eff & (1 << 24)) == bool(held & (1 << 24))  # CAP_SYS_RESOURCE: granted only if we hold it
    if not held & (1 << 24):
        assert "CAP_SYS_RESOURCE` cannot be granted" in r.stderr


@pytest.mark.parametrize("edit,path", [
    (lambda c: c.update(hooks={"prestart": [{"path": "relative/hook"}]}), "hooks.prestart[0].path"),
    (lambda c: c.update(hooks={"poststop": [{"path": "/bin/true", "timeout": 0}]}), "hooks.poststop[0].timeout"),
    (lambda c: c["process"].update(oomScoreAdj=1001), "process.oomScoreAdj"),
])
def test_invalid_hooks_and_oom_score(rc, bundle, edit, path):
    r = rc.run("create", "--bundle", bundle(["true"], edit=edit), unique())
    assert r.returncode == 1 and f"{path}:" in r.stderr


def test_a_cgroup_in_use_or_frozen_is_refused_and_left_alone(rc, bundle):
    # runc's "container's cgroup is not empty": a second container given the first
    # one's linux.cgroupsPath (or any populated cgroup) must not join it, and its
    # failure (or a later delete --force) must not kill what runs there
    cid = unique()
    b = bundle(["sleep", "60"], cid)
    rc.run("create", "--bundle", b, cid, check=True)
    pid = rc.state(cid)["pid"]
    path = json.load(open(f"{b}/config.json"))["linux"]["cgroupsPath"]
    cid2 = unique()
    b2 = bundle(["sleep", "60"], cid2, name="b2", edit=lambda c: c["linux"].update(cgroupsPath=path))
    r = rc.run("create", "--bundle", b2, cid2)
    assert r.returncode == 1 and f"cgroup `{path}` is not empty: 1 process(es) found" in r.stderr, r.stderr
    assert rc.run("delete", "--force", cid2).returncode == 0
    assert alive(pid) and rc.status(cid) == "created" and cgroup_dirs(path)
    assert not os.path.exists(f"{rc.root}/containers/{cid2}")
    rc.run("delete", "--force", cid, check=True)
    assert not alive(pid) and not cgroup_dirs(path)
    frozen = f"{path}-frozen"
    freezer = f"/sys/fs/cgroup/freezer{frozen}"
    os.makedirs(freezer)
    try:
        with open(f"{freezer}/freezer.state", "w") as f:
            f.write("FROZEN")
        b3 = bundle(["true"], cid2, name="b3", edit=lambda c: c["linux"].update(cgroupsPath=frozen))
        r = rc.run("create", "--bundle", b3, cid2)
        assert r.returncode == 1 and f"cgroup `{frozen}` is frozen" in r.stderr, r.stderr
        assert os.path.isdir(freezer) and not os.path.exists(f"{rc.root}/containers/{cid2}")
    finally:
        with open(f"{freezer}/freezer.state", "w") as f:
            f.write("THAWED")
        for d in cgroup_dirs(frozen):
            os.rmdir(d)


def test_uid_4294967295_or_negative_is_refused_not_left_as_root(rc, bundle, tmp_path):
    # (uid_t)-1 is "unchanged" to setresuid(2)/setresgid(2): the process would stay root
    cid = unique()
    b = bundle(["id"], cid, edit=lambda c: c["process"].update(user={"uid": 4294967295, "gid": 4294967295}))
    r = rc.run("run", "--bundle", b, cid)
    assert r.returncode != 0 and "uid=0" not in r.stdout and "4294967295" in r.stderr, (r.stdout, r.stderr)
    rc.run("delete", "--force", cid)
    cid = unique()
    b = bundle(["sleep", "60"], cid, name="b2")
    rc.run("run", "--detach", "--bundle", b, cid, check=True)
    for user in ({"uid": -1, "gid": 0}, {"uid": 0, "gid": -1}, {"uid": 4294967295, "gid": 0}):
        (tmp_path / "p.json").write_text(json.dumps({"args": ["id", "-u"], "cwd": "/", "user": user}))
        r = rc.run("exec", "--process", str(tmp_path / "p.json"), cid)
        assert r.returncode != 0 and r.stdout.strip() != "0", (user, r.stdout, r.stderr)
    rc.run("delete", "--force", cid, check=True)


def test_start_container_hook_runs_with_the_containers_privileges(rc, bundle, tmp_path):
    # startContainer's executable is resolved in the container's root (the image's
    # file): it must run as the container's process would (its user, capabilities,
    # no_new_privs and cgroup), not with the runtime's full capabilities (an escape)
    cid = unique()
    inside = tmp_path / "inside"
    inside.mkdir()
    os.chmod(inside, 0o777)

    def edit(cfg):
        cfg["process"]["noNewPrivileges"] = True
        cfg["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": [
            "sh", "-c", "cat /proc/self/status > /hookdir/status; cat /proc/self/cgroup > /hookdir/cgroup; "
            "ls /proc/self/fd > /hookdir/fds"]}]}
        cfg["mounts"].append({"destination": "/hookdir", "type": "bind", "source": str(inside),
                              "options": ["rbind", "rw"]})
    b = bundle(["sleep", "60"], cid, edit=edit)
    rc.run("create", "--bundle", b, cid, check=True)
    pid = rc.state(cid)["pid"]
    host_dir = os.open("/", os.O_RDONLY)  # a caller's inheritable fd (a shim's, conmon's): not the hook's
    os.set_inheritable(host_dir, True)
    try:
        rc.run("start", cid, check=True, pass_fds=(host_dir,))
    finally:
        os.close(host_dir)
    wait_for(lambda: cmdline(pid) == ["sleep", "60"], what="execve of the user program")
    assert (inside / "fds").read_text().split() == ["0", "1", "2", "3"]  # (3: ls's own)

    def fields(text):
        return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}
    hook = fields((inside / "status").read_text())
    with open(f"/proc/{pid}/status") as f:
        ctr = fields(f.read())
    for key in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs", "Uid", "Gid"):
        assert hook[key] == ctr[key], (key, hook[key], ctr[key])
    # in the container's cgroup namespace, its own cgroup is "/" ("/.." was the runtime's)
    got = (inside / "cgroup").read_text().splitlines()
    assert [line.split(":", 2)[2] for line in got if ":pids:" in line] == ["/"], got
    rc.run("delete", "--force", cid, check=True)
