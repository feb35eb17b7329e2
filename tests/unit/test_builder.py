"""RunOptions -> Spec, with a fake Host (no privileges)."""

from __future__ import annotations

import pytest

from nsbox.errors import ConfigError
from nsbox.specgen import builder as b
from nsbox.specgen.options import RunOptions


def host(tmp_path, euid=1000, subuid="u:100000:65536\n") -> b.Host:
    (tmp_path / "subuid").write_text(subuid)
    (tmp_path / "subgid").write_text(subuid)
    h = b.Host(euid=euid, egid=euid, subuid=str(tmp_path / "subuid"), subgid=str(tmp_path / "subgid"))
    h.user_name = lambda: "u"  # type: ignore[method-assign]
    return h


def build(tmp_path, euid=1000, **kw):
    o = RunOptions(command=("sh",), **kw)
    return b.build(o, cid="a" * 64, rootfs=b.RootfsInput("/r"), host=host(tmp_path, euid), cgroup_parent="/nsbox")


def kinds(spec):
    return {ns.type: ns.path for ns in spec.linux.namespaces}


def test_rootless_defaults(tmp_path):
    s = build(tmp_path)
    assert set(kinds(s)) == {"user", "mount", "pid", "network", "ipc", "uts", "cgroup", "time"}
    assert [(x.container_id, x.host_id, x.size) for x in s.linux.uid_mappings] == [(0, 1000, 1)]
    assert s.linux.cgroups_path is None
    assert s.hostname == "a" * 12


def test_root_defaults_no_user_namespace(tmp_path):
    s = build(tmp_path, euid=0)
    assert "user" not in kinds(s)
    assert s.linux.cgroups_path == "/nsbox/" + "a" * 64


def test_share_and_join(tmp_path):
    s = build(tmp_path, euid=0, share=("net,uts",), ns=("ipc=/proc/1/ns/ipc",), pid="host")
    k = kinds(s)
    assert "network" not in k and "uts" not in k and "pid" not in k
    assert k["ipc"] == "/proc/1/ns/ipc"
    assert s.hostname is None


@pytest.mark.parametrize("kw,msg", [
    ({"share": ("bogus",)}, "unknown namespace kind"),
    ({"ns": ("net",)}, "expected KIND=PATH"),
    ({"network": "we/ird"}, "expected none, host, bridge, NAME"),
    ({"userns": "host"}, "needs a new user namespace"),
    ({"time_offset": ("monotonic=abc",)}, "not a number"),
    ({"time_offset": ("realtime=5",)}, "expected monotonic=SECONDS"),
    ({"workdir": "rel"}, "must be an absolute path"),
    ({"volume": ("/x",)}, "expected SRC:DST"),
    ({"tmpfs": ("rel",)}, "absolute path"),
    ({"propagation": "sideways"}, "expected private, slave"),
    ({"user": "1000"}, "uid 1000 is not mapped"),
])
def test_bad_options(tmp_path, kw, msg):
    with pytest.raises(ConfigError, match=msg):
        build(tmp_path, **kw)


def test_userns_auto(tmp_path):
    s = build(tmp_path, userns="auto")
    assert [(x.container_id, x.host_id, x.size) for x in s.linux.uid_mappings] == [(0, 1000, 1), (1, 100000, 65536)]
    s = build(tmp_path, euid=0, userns="auto")
    assert [(x.container_id, x.host_id, x.size) for x in s.linux.uid_mappings] == [(0, 100000, 65536)]


def test_userns_auto_without_subids(tmp_path):
    o = RunOptions(command=("sh",), userns="auto")
    with pytest.raises(ConfigError, match="grants no uid range"):
        b.build(o, cid="x" * 64, rootfs=b.RootfsInput("/r"), host=host(tmp_path, subuid=""))


def test_time_offsets(tmp_path):
    s = build(tmp_path, time_offset=("boottime=1.5", "monotonic=-10"))
    off = s.linux.time_offsets
    assert (off["boottime"].secs, off["boottime"].nanosecs) == (1, 500000000)
    assert (off["monotonic"].secs, off["monotonic"].nanosecs) == (-10, 0)


def test_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSED", "through")
    s = build(tmp_path, env=("A=1", "PASSED", "NOT_SET_ANYWHERE"), tty=True)
    env = dict(kv.split("=", 1) for kv in s.process.env)
    assert env["A"] == "1" and env["PASSED"] == "through" and "NOT_SET_ANYWHERE" not in env
    assert "TERM" in env and env["PATH"].startswith("/usr/local/sbin")


def test_volumes_and_propagation(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    s = build(tmp_path, volume=(f"{src}:/data:ro,rslave",), propagation="slave")
    vol = [x for x in s.mounts if x.destination == "/data"][0]
    assert vol.options == ("rbind", "ro", "rslave") and vol.source == str(src)
    assert s.linux.rootfs_propagation == "rslave"


def test_default_root_masks_host_secrets(tmp_path):
    o = RunOptions(command=("sh",))
    s = b.build(o, cid="c" * 64, rootfs=b.RootfsInput("/r", upper="/u", work="/w", host=True),
                host=host(tmp_path, euid=0))
    dests = [x.destination for x in s.mounts]
    assert "/usr" in dests and "/etc" in dests and "/tmp" in dests
    etc = [x for x in s.mounts if x.destination == "/etc"][0]
    assert etc.type == "overlay" and "lowerdir=/etc" in etc.options
    assert "/etc" in s.linux.readonly_paths
    assert "/etc/shadow" in s.linux.masked_paths and "/proc/kcore" in s.linux.masked_paths


def test_cgroup_parent_configured(tmp_path, monkeypatch):
    from nsbox import defaults

    monkeypatch.setenv("NSBOX_CGROUP_PARENT", "/from-env")  # the library does not read it
    monkeypatch.setattr(defaults, "cgroup_parent", defaults.cgroup_parent)
    o = RunOptions(command=("sh",))
    s = b.build(o, cid="d" * 64, rootfs=b.RootfsInput("/r"), host=host(tmp_path, euid=0))
    assert s.linux.cgroups_path == "/nsbox/" + "d" * 64
    defaults.configure(cgroup_parent="/mine")
    s = b.build(o, cid="d" * 64, rootfs=b.RootfsInput("/r"), host=host(tmp_path, euid=0))
    assert s.linux.cgroups_path == "/mine/" + "d" * 64
    with pytest.raises(ConfigError, match="configure: cgroup_parent `../up`: must be an absolute"):
        defaults.configure(cgroup_parent="../up")


def test_hostname_length(tmp_path):
    with pytest.raises(ConfigError, match="--hostname `x{65}`: must be 1 to 64 bytes"):
        build(tmp_path, hostname="x" * 65)
    assert build(tmp_path, hostname="x" * 64).hostname == "x" * 64
