"""RunOptions -> the privilege fields of the spec (spec/privileges.py), on a fake host tree."""

from __future__ import annotations

import pytest

from nsbox.errors import ConfigError
from nsbox.specgen.builder import MASKED, READONLY, Host, RootfsInput, build
from nsbox.specgen.options import RunOptions
from nsbox.specgen.privileges import DEFAULT_CAPS, RLIM_INFINITY, parse_security_opts

ALL_BUT_SYS_RESOURCE = "000001fffeffffff"  # this machine's root: everything but CAP_SYS_RESOURCE


@pytest.fixture
def host(tmp_path):
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/cap_last_cap").write_text("40\n")
    (tmp_path / "proc/self/status").write_text(
        f"Name:\tnsbox\nCapEff:\t{ALL_BUT_SYS_RESOURCE}\nCapBnd:\t{ALL_BUT_SYS_RESOURCE}\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\naudio:x:29:user\nuser:x:1000:\n")
    return Host(euid=0, egid=0, root=str(tmp_path))


def spec_for(host, **kw):
    rootfs = RootfsInput(root="/tmp/root", passwd=f"{host.root}/etc/passwd")
    return build(RunOptions(command=("true",), **kw), cid="c" * 64, rootfs=rootfs, host=host)


def test_defaults_are_podmans_caps_and_dockers_profile(host):
    s = spec_for(host)
    caps = s.process.capabilities
    assert sorted(caps.bounding) == sorted(DEFAULT_CAPS)
    assert sorted(c[4:] for c in caps.bounding) == [
        "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP",
        "SETUID", "SYS_CHROOT"]
    assert caps.effective == caps.permitted == caps.bounding
    assert caps.inheritable == () and caps.ambient == ()
    assert s.process.no_new_privileges is True
    assert s.linux.seccomp["defaultAction"] == "SCMP_ACT_ERRNO"
    assert set(MASKED) <= set(s.linux.masked_paths)
    assert s.linux.readonly_paths == READONLY


def test_cap_add_and_drop(host):
    caps = spec_for(host, cap_add=("net_admin,SYS_TIME",), cap_drop=("CAP_CHOWN", "kill")).process.capabilities
    assert "CAP_NET_ADMIN" in caps.bounding and "CAP_SYS_TIME" in caps.effective
    assert "CAP_CHOWN" not in caps.bounding and "CAP_KILL" not in caps.permitted


@pytest.mark.parametrize("cap", ["NET_RAW", "MKNOD", "AUDIT_WRITE"])
def test_dockers_extra_caps_come_back_with_cap_add(host, cap):
    assert f"CAP_{cap}" not in spec_for(host).process.capabilities.bounding
    caps = spec_for(host, cap_add=(cap,)).process.capabilities
    assert caps.bounding == caps.effective == caps.permitted
    assert set(caps.bounding) == set(DEFAULT_CAPS) | {f"CAP_{cap}"}
    # the seccomp profile follows the capabilities: CAP_SYS_TIME opens clock_settime
    allowed = {n for r in spec_for(host, cap_add=("SYS_TIME",)).linux.seccomp["syscalls"] for n in r["names"]}
    assert "clock_settime" in allowed


def test_drop_all_keeps_only_added(host):
    caps = spec_for(host, cap_drop=("ALL",), cap_add=("NET_BIND_SERVICE",)).process.capabilities
    assert caps.bounding == ("CAP_NET_BIND_SERVICE",)
    assert spec_for(host, cap_drop=("all",)).process.capabilities.bounding == ()


def test_add_all_is_what_nsbox_has(host):
    caps = spec_for(host, cap_add=("ALL",), cap_drop=("SYS_ADMIN",)).process.capabilities
    assert "CAP_SYS_ADMIN" not in caps.bounding
    assert "CAP_SYS_RESOURCE" not in caps.bounding  # nsbox's own bounding set lacks it
    assert "CAP_CHECKPOINT_RESTORE" in caps.bounding


def test_non_root_user_gets_added_caps_as_ambient(host):
    caps = spec_for(host, user="1000").process.capabilities
    assert sorted(caps.bounding) == sorted(DEFAULT_CAPS)
    assert caps.effective == caps.permitted == caps.ambient == ()
    caps = spec_for(host, user="1000", cap_add=("NET_BIND_SERVICE",)).process.capabilities
    assert caps.effective == caps.permitted == caps.inheritable == caps.ambient == ("CAP_NET_BIND_SERVICE",)


@pytest.mark.parametrize("kw, msg", [
    ({"cap_add": ("FLY",)}, "--cap-add `FLY`: unknown capability"),
    ({"cap_drop": ("CAP_",)}, "--cap-drop `CAP_`: unknown capability"),
    ({"cap_add": ("SYS_RESOURCE",)}, "--cap-add `CAP_SYS_RESOURCE`: nsbox cannot grant it: nsbox itself"),
    ({"security_opt": ("seccomp",)}, "--security-opt `seccomp`: unknown option"),
    ({"security_opt": ("no-new-privileges=maybe",)}, "expected true or false"),
    ({"security_opt": ("apparmor=docker-default",)}, "apparmor is not supported"),
    ({"ulimit": ("nofile",)}, "--ulimit `nofile`: expected NAME=SOFT[:HARD]"),
    ({"ulimit": ("files=1",)}, "--ulimit `files=1`: unknown limit `files`"),
    ({"ulimit": ("nofile=2048:1024",)}, "the soft limit 2048 is above the hard limit 1024"),
    ({"ulimit": ("nofile=x",)}, "`x` is not a number"),
    ({"oom_score_adj": "1001"}, "--oom-score-adj `1001`: must be between -1000 and 1000"),
    ({"oom_score_adj": "high"}, "--oom-score-adj `high`: not an integer"),
    ({"group_add": ("wheel",)}, "--group-add `wheel`: no such group"),
    ({"landlock_ro": ("usr",)}, "--landlock-ro `usr`: an absolute container path"),
])
def test_bad_values_are_one_line_errors(host, kw, msg):
    with pytest.raises(ConfigError) as e:
        spec_for(host, **kw)
    assert msg in str(e.value)
    assert "\n" not in str(e.value)


def test_cap_unknown_to_kernel(host, tmp_path):
    (tmp_path / "proc/sys/kernel/cap_last_cap").write_text("37\n")
    with pytest.raises(ConfigError, match="the running kernel does not have this capability"):
        spec_for(host, cap_add=("BPF",))
    assert "CAP_BPF" not in spec_for(host, privileged=True).process.capabilities.bounding


def test_security_opts():
    s = parse_security_opts(("no-new-privileges=false", "seccomp=unconfined", "label=disable"))
    assert s.no_new_privileges is False and s.seccomp == "unconfined"
    assert parse_security_opts(("no-new-privileges",)).no_new_privileges is True
    assert parse_security_opts(("no-new-privileges:false",)).no_new_privileges is False  # Docker's legacy form
    assert parse_security_opts(("seccomp:/p.json",)).seccomp == "/p.json"


def test_no_new_privs_and_seccomp_opts(host):
    s = spec_for(host, security_opt=("no-new-privileges=false", "seccomp=unconfined"))
    assert s.process.no_new_privileges is False and s.linux.seccomp is None


def test_seccomp_profile_file(host, tmp_path):
    p = tmp_path / "p.json"
    p.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"], '
                 '"action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}')
    assert spec_for(host, security_opt=(f"seccomp={p}",)).linux.seccomp["syscalls"][0]["names"] == ["keyctl"]
    assert spec_for(host, security_opt=(f"seccomp={p}",), cap_add=("SYS_ADMIN",)).linux.seccomp["syscalls"] == []
    # an explicit profile is kept even with --privileged (Podman)
    assert spec_for(host, privileged=True, security_opt=(f"seccomp={p}",)).linux.seccomp is not None


def test_privileged(host, tmp_path):
    (tmp_path / "dev").mkdir()
    s = spec_for(host, privileged=True)
    assert s.linux.seccomp is None
    assert len(s.process.capabilities.bounding) == 40  # all 41 but CAP_SYS_RESOURCE
    assert not set(MASKED) & set(s.linux.masked_paths)
    assert s.linux.readonly_paths == ()
    sysfs = [mt for mt in s.mounts if mt.destination == "/sys"][0]
    assert "ro" not in sysfs.options
    assert s.process.no_new_privileges is True  # lifted only by --security-opt
    assert s.linux.resources["devices"] == [{"allow": True, "access": "rwm"}]
    assert spec_for(host).linux.resources["devices"][0] == {"allow": False, "access": "rwm"}


def test_unmask_and_mask(host):
    s = spec_for(host, security_opt=("unmask=/proc/keys", "mask=/etc/hostname:/proc/cpuinfo"))
    assert "/proc/keys" not in s.linux.masked_paths
    assert "/proc/kcore" in s.linux.masked_paths
    assert {"/etc/hostname", "/proc/cpuinfo"} <= set(s.linux.masked_paths)
    s = spec_for(host, security_opt=("systempaths=unconfined",))
    assert not set(MASKED) & set(s.linux.masked_paths) and s.linux.readonly_paths == ()


def test_ulimits(host, tmp_path):
    full = "000001ffffffffff"  # with CAP_SYS_RESOURCE any hard limit may be asked for
    (tmp_path / "proc/self/status").write_text(f"CapEff:\t{full}\nCapBnd:\t{full}\n")
    s = spec_for(host, ulimit=("nofile=1024:2048", "core=0", "memlock=-1", "nofile=512:1024"))
    got = {r.type: (r.soft, r.hard) for r in s.process.rlimits}
    assert got == {"RLIMIT_NOFILE": (512, 1024), "RLIMIT_CORE": (0, 0),
                   "RLIMIT_MEMLOCK": (RLIM_INFINITY, RLIM_INFINITY)}


def test_ulimit_above_our_hard_limit_without_cap_sys_resource(host):
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no finite hard limit to exceed")  # not this machine: its hard limit is 20000
    with pytest.raises(ConfigError, match=rf"above nsbox's own \({hard}\).*CAP_SYS_RESOURCE"):
        spec_for(host, ulimit=(f"nofile=1024:{hard + 1}",))


def test_oom_groups_landlock(host):
    s = spec_for(host, oom_score_adj="-17", group_add=("audio", "4,audio"), user="user",
                 landlock_ro=("/usr", "/etc"), landlock_rw=("/tmp",))
    assert s.process.oom_score_adj == -17
    assert s.process.user.additional_gids == (1000, 29, 4)  # initgroups: the primary group first
    assert s.annotations["run.nsbox.landlock.ro"] == "/usr:/etc"
    assert s.annotations["run.nsbox.landlock.rw"] == "/tmp"


def test_rootless_group_must_be_mapped(tmp_path, host):
    rootless = Host(euid=1000, egid=1000, root=host.root, subuid=str(tmp_path / "none"),
                    subgid=str(tmp_path / "none"))
    rootless.user_name = lambda: "user"  # type: ignore[method-assign]
    rootfs = RootfsInput(root="/tmp/root", passwd=f"{host.root}/etc/passwd")
    with pytest.raises(ConfigError, match="--group-add `29`: gid 29 is not mapped"):
        build(RunOptions(command=("true",), group_add=("audio",)), cid="c" * 64, rootfs=rootfs, host=rootless)
    s = build(RunOptions(command=("true",), privileged=True), cid="c" * 64, rootfs=rootfs, host=rootless)
    assert len(s.process.capabilities.bounding) == 41  # a new user namespace has them all
