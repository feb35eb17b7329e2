"""linux.sysctl: the builder's default (ping_group_range), --sysctl, the engine's rules."""

from __future__ import annotations

import os

import pytest

from nsbox.errors import ConfigError
from nsbox.runtime import sysctl as R
from nsbox.runtime.launch import Launch
from nsbox.spec import model as m
from nsbox.specgen.builder import Host, RootfsInput, build
from nsbox.specgen.options import RunOptions


@pytest.fixture
def host(tmp_path):
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/cap_last_cap").write_text("40\n")
    (tmp_path / "proc/self/status").write_text("Name:\tnsbox\nCapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\n")
    (tmp_path / "proc/4242").mkdir()
    (tmp_path / "proc/4242/gid_map").write_text("         0     200000      65536\n     65536       1001          1\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\n")
    (tmp_path / "etc/subuid").write_text("root:100000:65536\n")
    (tmp_path / "etc/subgid").write_text("root:100000:65536\n")
    return Host(euid=0, egid=0, root=str(tmp_path), subuid=str(tmp_path / "etc/subuid"),
                subgid=str(tmp_path / "etc/subgid"))


def sysctl_of(host, **kw) -> dict[str, str]:
    rootfs = RootfsInput(root="/tmp/root", passwd=f"{host.root}/etc/passwd")
    return build(RunOptions(command=("true",), **kw), cid="c" * 64, rootfs=rootfs, host=host).linux.sysctl


def test_own_network_gets_every_group_without_a_user_namespace(host):
    assert sysctl_of(host) == {"net.ipv4.ping_group_range": "0 2147483647"}


def test_user_namespace_gets_its_mapped_range(host):
    assert sysctl_of(host, userns="auto") == {"net.ipv4.ping_group_range": "0 65535"}
    got = sysctl_of(host, uidmap=("0:100000:10", "1000:101000:1"), gidmap=("0:100000:10", "1000:101000:1"))
    assert got == {"net.ipv4.ping_group_range": "0 1000"}  # both ends mapped (the kernel checks only those)


def test_rootless_single_id_map(host):
    rootless = Host(euid=1000, egid=1000, root=host.root, subuid=host.subuid, subgid=host.subgid)
    rootfs = RootfsInput(root="/tmp/root", passwd=f"{host.root}/etc/passwd")
    spec = build(RunOptions(command=("true",)), cid="c" * 64, rootfs=rootfs, host=rootless)
    assert spec.linux.sysctl == {"net.ipv4.ping_group_range": "0 0"}
    assert spec.to_json()["linux"]["sysctl"] == {"net.ipv4.ping_group_range": "0 0"}


def test_joined_user_namespace_reads_its_map(host):
    from nsbox.specgen.sysctl import ping_group_range

    joined = m.Namespace(type="user", path="/proc/4242/ns/user")
    assert ping_group_range(joined, (), host) == "0 65536"
    assert ping_group_range(m.Namespace(type="user", path="/run/userns/x"), (), host) is None


def test_no_default_without_an_own_network_namespace(host):
    assert sysctl_of(host, network="host") == {}
    assert sysctl_of(host, network="ns:/run/netns/x") == {}


def test_sysctl_flag(host):
    got = sysctl_of(host, sysctl=("net.ipv4.ping_group_range=0 0", "net/ipv4/conf/all/forwarding=1",
                                  "kernel.shmmax=1024", "kernel.domainname=example"))
    assert got == {"net.ipv4.ping_group_range": "0 0", "net/ipv4/conf/all/forwarding": "1",
                   "kernel.shmmax": "1024", "kernel.domainname": "example"}


@pytest.mark.parametrize("kw, msg", [
    ({"sysctl": ("net.ipv4.ip_forward",)}, "--sysctl `net.ipv4.ip_forward`: expected KEY=VALUE"),
    ({"sysctl": ("kernel.core_pattern=|/x",)}, "--sysctl `kernel.core_pattern`: not a parameter of a namespace"),
    ({"sysctl": ("vm.overcommit_memory=1",)}, "--sysctl `vm.overcommit_memory`: not a parameter"),
    ({"sysctl": ("kernel.hostname=x",)}, "--sysctl `kernel.hostname`: conflicts with the spec's hostname"),
    ({"sysctl": ("net..x=1",)}, "--sysctl `net..x`: not a kernel parameter name"),
    ({"sysctl": ("net/ipv4/../../kernel/core_pattern=1",)}, "not a kernel parameter name"),
    ({"sysctl": ("net.ipv4.ip_forward=1",), "network": "host"},
     "--sysctl `net.ipv4.ip_forward=1`: the container shares the host's network namespace (drop --network host"),
    ({"sysctl": ("kernel.shmmax=1",), "ipc": "host"}, "shares the host's IPC namespace"),
])
def test_sysctl_flag_errors(host, kw, msg):
    with pytest.raises(ConfigError) as e:
        sysctl_of(host, **kw)
    assert msg in str(e.value)


def launch_for(sysctl: dict[str, str], namespaces: tuple[m.Namespace, ...]) -> Launch:
    spec = m.Spec(process=m.Process(args=("true",)), linux=m.Linux(namespaces=namespaces, sysctl=sysctl))
    return Launch(spec, None, fifo_fd=-1, rootless=False)


NEW = tuple(m.Namespace(type=k) for k in ("mount", "pid", "network", "ipc", "uts"))


def test_engine_accepts_namespaced_parameters():
    launch = launch_for({"net.ipv4.ping_group_range": "0 0", "fs.mqueue.msg_max": "20",
                         "net/ipv4/conf/eth0.100/forwarding": "1"}, NEW)
    assert R.check(launch) == [
        ("net.ipv4.ping_group_range", "/proc/sys/net/ipv4/ping_group_range", "0 0"),
        ("fs.mqueue.msg_max", "/proc/sys/fs/mqueue/msg_max", "20"),
        ("net/ipv4/conf/eth0.100/forwarding", "/proc/sys/net/ipv4/conf/eth0.100/forwarding", "1")]


@pytest.mark.parametrize("key, namespaces, msg", [
    ("kernel.core_pattern", NEW, "linux.sysctl `kernel.core_pattern`: not a parameter of a namespace"),
    ("net.ipv4.ip_forward", (m.Namespace(type="mount"),), "the container shares the host's network namespace"),
    ("kernel.sem", (m.Namespace(type="network"),), "the container shares the host's IPC namespace"),
    ("net.ipv4.ip_forward", (m.Namespace(type="network", path="/proc/self/ns/net"),),
     "the container shares the host's network namespace"),
    ("net.ipv4.ip_forward", (m.Namespace(type="network", path="/nonexistent"),),
     "linux.namespaces network `/nonexistent`: No such file or directory"),
])
def test_engine_refuses_host_wide_parameters(key, namespaces, msg):
    with pytest.raises(ConfigError) as e:
        R.check(launch_for({key: "1"}, namespaces))
    assert msg in str(e.value)


def test_engine_writes_and_names_the_file_on_failure(tmp_path):
    target = tmp_path / "value"
    target.write_text("")
    R.apply([("net.x", str(target), "0 0")])
    assert target.read_text() == "0 0"
    with pytest.raises(OSError) as e:
        R.apply([("net.y", str(tmp_path / "missing"), "1")])
    assert str(e.value) == f"sysctl `net.y=1`: open `{tmp_path}/missing`: No such file or directory"
    os.symlink(target, tmp_path / "link")
    with pytest.raises(OSError):
        R.apply([("net.z", str(tmp_path / "link"), "1")])  # never through a symlink


def test_exec_leaves_the_namespaces_settings_alone():
    from nsbox.runtime.exec import exec_spec

    spec = exec_spec({"process": {"args": ["sh"], "cwd": "/"},
                      "linux": {"sysctl": {"kernel.core_pattern": "x"}, "namespaces": [{"type": "network"}]}})
    assert spec.linux.sysctl == {} and spec.linux.namespaces == (m.Namespace(type="network"),)
