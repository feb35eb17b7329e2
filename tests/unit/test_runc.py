"""nsbox-runc's front end without privileges: bundles, checks, parsing, hooks, features."""

from __future__ import annotations

import json
import os

import pytest

from nsbox.errors import ConfigError
from nsbox.runc import bundle as B
from nsbox.runc import events, features, hooks, main, opts, spec, update
from nsbox.runtime import procattrs
from nsbox.spec import model


def write(tmp_path, cfg) -> str:
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return str(tmp_path)


def test_default_spec_is_a_valid_bundle(tmp_path):
    for rootless in (False, True):
        s = B.load(write(tmp_path, spec.default(rootless)))
        assert s.root.path == f"{tmp_path}/rootfs" and s.process.args == ("sh",)
        assert (s.linux.namespace("user") is not None) == rootless


def test_unknown_properties_are_ignored_and_root_is_relative_to_the_bundle(tmp_path):
    cfg = spec.default()
    cfg["futureProperty"] = {"x": 1}
    cfg["process"]["futureField"] = True
    cfg["root"]["path"] = "sub/../rootfs"
    s = B.load(write(tmp_path, cfg))
    assert s.root.path == f"{tmp_path}/rootfs"


@pytest.mark.parametrize("change,message", [
    (lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 1, "size": 0}],
                                 gidMappings=[{"containerID": 0, "hostID": 1, "size": 1}],
                                 namespaces=c["linux"]["namespaces"] + [{"type": "user"}]),
     "linux.uidMappings[0].size: must be > 0"),
    (lambda c: c["process"].update(cwd="tmp"), "process.cwd:"),
    (lambda c: c["process"].update(args=[]), "process.args:"),
    (lambda c: c.pop("process"), "process:"),
    (lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOPE", "hard": 1, "soft": 1}]),
     "process.rlimits[0].type:"),
    (lambda c: c["linux"].update(cgroupsPath="system.slice:nsbox:x"), "linux.cgroupsPath:"),
    (lambda c: c["linux"].update(intelRdt={"closID": "a"}), "linux.intelRdt:"),
    (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x"}),
     "linux.seccomp.listenerPath:"),
    (lambda c: c["linux"].update(sysctl={"vm.swappiness": "1"}), "linux.sysctl.vm.swappiness:"),
    (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}), "linux.namespaces[6].type:"),
    (lambda c: c["mounts"].append({"destination": "x", "type": "tmpfs"}), "mounts[7].destination:"),
    (lambda c: c["process"].update(user={"uid": "root"}), "process.user.uid:"),
])
def test_invalid_values_fail_with_their_json_path(tmp_path, change, message):
    cfg = spec.default()
    change(cfg)
    with pytest.raises(ConfigError) as e:
        B.load(write(tmp_path, cfg))
    assert message in str(e.value)


def test_missing_or_broken_config(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        B.load(str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="config.json"):
        B.load(str(tmp_path))


def test_device_rules_let_the_default_devices_through(tmp_path):
    s = B.load(write(tmp_path, spec.default()))
    rules = s.linux.resources["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    allowed = {(r["type"], r["major"], r.get("minor")) for r in rules[1:] if r["allow"]}
    assert {("c", 1, 3), ("c", 1, 9), ("c", 5, 2), ("c", 136, None)} <= allowed


def test_extension_mount_options_are_dropped_and_host_hostname_accepted(tmp_path):
    cfg = spec.default()
    cfg["mounts"].append({"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                          "options": ["nosuid", "tmpcopyup"]})
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "uts"]
    cfg["hostname"] = os.uname().nodename
    s = B.load(write(tmp_path, cfg))
    assert s.mounts[-1].options == ("nosuid",) and s.hostname is None
    cfg["hostname"] = "another-" + os.uname().nodename
    with pytest.raises(ConfigError, match="hostname"):
        B.load(write(tmp_path, cfg))


def test_ignored_with_reasons():
    s = model.Spec(process=model.Process(args=("x",), apparmor_profile="p", selinux_label="l"))
    msgs = B.ignored(s)
    if not os.path.isdir("/sys/kernel/security/apparmor"):
        assert any("apparmorProfile" in m and "AppArmor" in m for m in msgs)
    if not os.path.isdir("/sys/fs/selinux"):
        assert any("selinuxLabel" in m for m in msgs)


def test_process_attribute_checks():
    p = model.Process(args=("x",), scheduler={"policy": "SCHED_RR", "flags": ["SCHED_FLAG_NOPE"]},
                      io_priority={"class": "IOPRIO_CLASS_BE", "priority": 4},
                      exec_cpu_affinity={"initial": "0-1", "final": "3,x"})
    lx = model.Linux(personality={"domain": "LINUX32", "flags": ["X"]}, memory_policy={"mode": "MPOL_LOCAL"})
    paths = [p_ for p_, _ in procattrs.check(p, lx)]
    assert paths == ["linux.personality.flags", "process.scheduler.flags[0]", "process.execCPUAffinity.final"]
    assert procattrs.parse_list("0-3,7") == [0, 1, 2, 3, 7]
    with pytest.raises(ValueError):
        procattrs.parse_list("3-")


def test_update_and_events_values():
    assert update.number("memory", "64m", "bytes") == 64 << 20
    assert update.number("memory", "1G", "bytes") == 1 << 30
    assert update.number("memory", "-1", "bytes") == -1
    assert update.number("cpuset_cpus", "0-1", "str") == "0-1"
    with pytest.raises(ConfigError, match="--pids-limit"):
        update.number("pids_limit", "many", "int")
    assert events.interval("5s") == 5 and events.interval("500ms") == 0.5 and events.interval("2") == 2
    with pytest.raises(ConfigError):
        events.interval("soon")


def test_options_accept_runc_spellings():
    from nsbox.runc.create import OPTIONS

    v, pos = opts.parse("create", "create", OPTIONS, ["-bundle", "/b", "--pid-file=/p", "id"])
    assert v["bundle"] == "/b" and v["pid_file"] == "/p" and pos == ["id"]
    with pytest.raises(opts.UsageError):
        opts.parse("create", "create", OPTIONS, ["--nope", "id"])


def test_global_options(tmp_path, capsys):
    main.G.__init__()
    args = ["--root", "rel", "--log", str(tmp_path / "l"), "--log-format=json", "--debug", "state", "x"]
    assert main.parse_globals(args) is None and args == ["state", "x"]
    assert main.G.root == os.path.abspath("rel") and main.G.log_format == "json" and main.G.debug
    assert main.parse_globals(["--log-format", "xml"]) == 2
    assert main.parse_globals(["--what"]) == 2
    main.err("something failed")
    entry = json.loads((tmp_path / "l").read_text().splitlines()[-1])
    assert entry["level"] == "error" and entry["msg"] == "something failed"
    assert main.main(["--systemd-cgroup", "list"]) == 1
    assert "systemd" in capsys.readouterr().err
    main.G.__init__()


def test_features_structure():
    f = features.features()
    assert f["ociVersionMin"] == "1.0.0" and f["ociVersionMax"] == model.OCI_VERSION
    assert set(f) <= {"ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux", "annotations",
                      "potentiallyUnsafeConfigAnnotations"}
    assert {"rro", "idmap", "ridmap"} <= set(f["mountOptions"])
    assert f["linux"]["mountExtensions"]["idmap"]["enabled"] is True


def test_hooks_get_the_state_and_their_failures_are_reported(tmp_path):
    out = tmp_path / "state.json"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\necho \"$1 $X\" > {tmp_path}/args\ncat > {out}\n")
    script.chmod(0o755)
    s = model.Spec(hooks=model.Hooks(create_runtime=(model.Hook(path=str(script), args=("name", "a1"),
                                                                env=("X=1",)),)))
    hooks.run_all(s, "create_runtime", {"id": "c", "status": "creating"})
    assert json.loads(out.read_text()) == {"id": "c", "status": "creating"}
    assert (tmp_path / "args").read_text() == "a1 1\n"  # args[0] is argv[0]; a script's $0 is its path
    bad = model.Hook(path="/bin/sh", args=("sh", "-c", "echo nope >&2; exit 4"))
    with pytest.raises(hooks.HookError, match=r"hooks.createRuntime\[0\] `/bin/sh`: exit status 4: nope"):
        hooks.run_all(model.Spec(hooks=model.Hooks(create_runtime=(bad,))), "create_runtime", {})
    slow = model.Hook(path="/bin/sleep", args=("sleep", "10"), timeout=1)
    with pytest.raises(hooks.HookError, match="timed out after 1 s"):
        hooks.run_one(slow, b"{}", "hooks.poststart[0]")
    warned = []
    hooks.run_all(model.Spec(hooks=model.Hooks(poststop=(bad,))), "poststop", {}, warn=warned.append)
    assert len(warned) == 1 and "poststop" in warned[0]
    with pytest.raises(hooks.HookError, match="exit status 127"):
        hooks.run_one(model.Hook(path=str(tmp_path / "missing")), b"{}", "hooks.prestart[0]")


def test_delete_force_removes_a_directory_a_killed_create_left(tmp_path):
    from nsbox.procfs import start_time
    from nsbox.runc.delete import remove_abandoned
    from nsbox.runtime.state import Store

    st = Store(str(tmp_path))
    st.ensure()
    dead = f"{st.containers_dir}/.new-999999999.1-c1"
    mine = f"{st.containers_dir}/.new-{os.getpid()}.{start_time(os.getpid())}-c1"
    other = f"{st.containers_dir}/.new-999999999.1-c2"
    for d in (dead, mine, other):
        os.makedirs(d)
    remove_abandoned(st, "c1")
    assert not os.path.exists(dead) and os.path.exists(mine) and os.path.exists(other)


def test_pid_file_is_not_written_through_a_planted_symlink(tmp_path):
    # --pid-file in a directory others can write: a symlink planted at the
    # temporary name must not make us truncate and write its target
    from nsbox.errors import NsboxError
    from nsbox.runc.console import write_pid_file

    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / f".c.pid.{os.getpid()}").symlink_to(victim)
    with pytest.raises(NsboxError, match=r"--pid-file .*c\.pid"):
        write_pid_file(str(tmp_path / "c.pid"), 4242)
    assert victim.read_text() == "precious\n"
    assert not (tmp_path / "c.pid").exists()
    os.unlink(tmp_path / f".c.pid.{os.getpid()}")
    write_pid_file(str(tmp_path / "c.pid"), 4242)
    assert (tmp_path / "c.pid").read_text() == "4242"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pid", "victim"]


def test_console_socket_with_a_path_longer_than_sun_path(tmp_path):
    # conmon's and shims' socket paths can pass the 108 bytes of sockaddr_un:
    # reached through the directory (as /proc/self/fd/N/NAME), else a clear error
    import socket

    from nsbox.errors import NsboxError
    from nsbox.runc.console import connect

    deep = tmp_path / ("d" * 100) / ("e" * 60)
    deep.mkdir(parents=True)
    path = str(deep / "console.sock")
    assert len(path) > 108
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dfd = os.open(deep, os.O_PATH)
    try:
        srv.bind(f"/proc/self/fd/{dfd}/console.sock")
        srv.listen(1)
        connect(path).close()
    finally:
        os.close(dfd)
        srv.close()
    with pytest.raises(NsboxError, match=r"--console-socket `.*/nothing.sock`: No such file or directory"):
        connect(str(deep / "nothing.sock"))
    with pytest.raises(NsboxError, match=r"--console-socket `.*`: the socket's name is too long"):
        connect(str(deep / ("n" * 120)))
