"""Network options: --network modes, -p, IPv4 helpers, the spec's annotations and /etc mounts."""

from __future__ import annotations

import pytest

from nsbox.errors import ConfigError
from nsbox.net import ipv4, mode, ports
from nsbox.net import spec as netspec
from nsbox.specgen import builder as b
from nsbox.specgen.options import RunOptions


def test_ipv4_round_trip_and_cidr():
    assert ipv4.fmt(ipv4.parse("10.89.0.1")) == "10.89.0.1"
    assert ipv4.parse_cidr("10.89.0.0/24") == (ipv4.parse("10.89.0.0"), 24)
    assert ipv4.hosts(*ipv4.parse_cidr("10.89.0.0/30")) == (ipv4.parse("10.89.0.1"), ipv4.parse("10.89.0.2"))
    assert ipv4.overlaps(ipv4.parse_cidr("10.89.0.0/16"), ipv4.parse_cidr("10.89.7.0/24"))
    assert not ipv4.overlaps(ipv4.parse_cidr("10.89.0.0/24"), ipv4.parse_cidr("10.89.1.0/24"))


@pytest.mark.parametrize("text,msg", [("10.89.0.1/24", "host bits are set"), ("10.89.0.0", "expected an IPv4"),
                                      ("10.256.0.0/16", "not an IPv4 address"), ("10.0.0.0/33", "expected")])
def test_ipv4_bad_cidr(text, msg):
    with pytest.raises(ConfigError, match=msg):
        ipv4.parse_cidr(text)


@pytest.mark.parametrize("spec,want", [
    ("8080:80", ("tcp", "", 8080, 80)),
    ("8080:80/udp", ("udp", "", 8080, 80)),
    ("127.0.0.1:8080:80", ("tcp", "127.0.0.1", 8080, 80)),
    ("0.0.0.0:8080:80/tcp", ("tcp", "", 8080, 80)),
    ("80", ("tcp", "", 80, 80)),
])
def test_publish_specs(spec, want):
    p = ports.parse(spec)
    assert p.key() == want
    assert ports.Port.decode(p.encode()) == p


@pytest.mark.parametrize("spec,msg", [
    ("8080:80/sctp", "protocol `sctp`"), ("8080-8090:80", "ranges are not supported"),
    ("70000:80", "not a port number"), ("[::1]:80:80", "IPv6"), ("1.2.3:80:80", "not an IPv4 address"),
    ("a:b:c:d", "expected"), ("127.0.0.1::80", "give the host port"),
])
def test_bad_publish_specs(spec, msg):
    with pytest.raises(ConfigError, match=msg):
        ports.parse(spec)


def test_publish_conflicts_within_one_run():
    with pytest.raises(ConfigError, match="already published by -p `8080:80`"):
        ports.parse_all(("8080:80", "127.0.0.1:8080:81"))
    assert len(ports.parse_all(("8080:80", "8080:80/udp", "127.0.0.1:8081:80", "127.0.0.2:8081:80"))) == 4


@pytest.mark.parametrize("value,kind,arg", [
    ("none", "none", ""), ("host", "host", ""), ("bridge", "bridge", "nsbox"), ("nsbox", "bridge", "nsbox"),
    ("mynet", "bridge", "mynet"), ("ns:/run/netns/x", "ns", "/run/netns/x"), ("/proc/1/ns/net", "ns", "/proc/1/ns/net"),
    ("container:web", "container", "web"), ("veth:172.12.0.11/24", "veth", "172.12.0.11/24"),
    ("pasta", "pasta", ""), ("slirp4netns", "slirp4netns", ""),
])
def test_network_modes(value, kind, arg):
    m = mode.parse(value)
    assert (m.kind, m.arg) == (kind, arg)
    assert mode.decode(m.encode()) == m


def test_mode_options():
    m = mode.parse("slirp4netns:allow_host_loopback=true,mtu=1500")
    assert m.option("mtu") == "1500" and m.option("allow_host_loopback") == "true"
    assert mode.decode(m.encode()).options == m.options
    assert mode.parse("pasta:--ipv4-only,-a,10.0.0.5").options == ("--ipv4-only", "-a", "10.0.0.5")


@pytest.mark.parametrize("value,msg", [
    ("veth", "give the host end's address"), ("veth:172.12.0.11/31", "no room"), ("veth:1.2.3/24", "address"),
    ("slirp4netns:bogus=1", "unknown option `bogus=1`"), ("we/ird", "expected none, host, bridge, NAME"),
])
def test_bad_network_modes(value, msg):
    with pytest.raises(ConfigError, match=msg):
        mode.parse(value)


def test_default_mode(monkeypatch):
    monkeypatch.setattr(mode, "tun_usable", lambda: True)
    monkeypatch.setattr(mode, "_on_path", lambda name: name == "pasta")
    assert mode.default(rootless=False, detach=False, publish=False).kind == "none"
    assert mode.default(rootless=False, detach=True, publish=False).encode() == "bridge:nsbox"
    assert mode.default(rootless=False, detach=False, publish=True).kind == "bridge"
    assert mode.default(rootless=True, detach=True, publish=False).kind == "pasta"
    monkeypatch.setattr(mode, "_on_path", lambda name: name == "slirp4netns")
    assert mode.default(rootless=True, detach=True, publish=False).kind == "slirp4netns"
    monkeypatch.setattr(mode, "tun_usable", lambda: False)
    assert mode.default(rootless=True, detach=True, publish=False).kind == "none"
    assert mode.default(rootless=True, detach=False, publish=True).kind == "pasta"  # -p: fail loudly


def _build(tmp_path, euid=0, state=True, **kw):
    (tmp_path / "sub").write_text("u:100000:65536\n")
    h = b.Host(euid=euid, egid=euid, subuid=str(tmp_path / "sub"), subgid=str(tmp_path / "sub"))
    h.user_name = lambda: "u"  # type: ignore[method-assign]
    o = RunOptions(command=("sh",), **kw)
    return b.build(o, cid="c" * 64, rootfs=b.RootfsInput("/r"), host=h, cgroup_parent="/nsbox",
                   state_dir=str(tmp_path / "state") if state else None)


def test_spec_annotations_and_etc_mounts(tmp_path):
    s = _build(tmp_path, network="bridge", publish=("127.0.0.1:8080:80",), ip="10.90.0.9", dns=("9.9.9.9",),
               add_host=("db:10.0.0.5",), volume=(f"{tmp_path}:/data",))
    a = s.annotations
    assert a[netspec.ANN_NETWORK] == "bridge:nsbox"
    assert a[netspec.ANN_PORTS] == "tcp:127.0.0.1:8080:80"
    assert a[netspec.ANN_IP] == "10.90.0.9" and a[netspec.ANN_DNS] == "9.9.9.9"
    assert a[netspec.ANN_HOSTS] == "db:10.0.0.5"
    dests = [x.destination for x in s.mounts]
    assert dests[-4:] == ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/data"]  # before the user's
    assert all(x.source.startswith(str(tmp_path / "state")) for x in s.mounts if x.destination.startswith("/etc/"))


def test_user_mount_on_etc_hosts_wins(tmp_path):
    f = tmp_path / "myhosts"
    f.write_text("")
    s = _build(tmp_path, network="none", volume=(f"{f}:/etc/hosts",))
    assert [x.source for x in s.mounts if x.destination == "/etc/hosts"] == [str(f)]


def test_no_etc_files_for_host_network(tmp_path):
    s = _build(tmp_path, network="host")
    assert not any(x.destination.startswith("/etc/") for x in s.mounts)
    with pytest.raises(ConfigError, match="--dns/--add-host"):
        _build(tmp_path, network="host", dns=("1.1.1.1",))


@pytest.mark.parametrize("kw,msg", [
    ({"network": "bridge"}, "bridge networks need root"),
    ({"network": "veth:172.12.0.11/24"}, "veth pairs need root"),
    ({"network": "none", "publish": ("80:80",)}, "publishing a port needs"),
    ({"network": "pasta", "ip": "10.0.0.2"}, "an address can only be chosen"),
])
def test_rootless_network_errors(tmp_path, kw, msg):
    with pytest.raises(ConfigError, match=msg):
        _build(tmp_path, euid=1000, **kw)


def test_unknown_named_network(tmp_path, monkeypatch):
    from nsbox import defaults

    monkeypatch.setattr(defaults, "network_dir", str(tmp_path / "nets"))
    with pytest.raises(ConfigError, match="`nope`: no such network"):
        _build(tmp_path, network="nope")


def test_write_files(tmp_path):
    s = _build(tmp_path, network="slirp4netns", add_host=("db:10.0.0.5",), hostname="box", domainname="lan")
    (tmp_path / "state").mkdir()
    netspec.write_files(s, str(tmp_path / "state"))
    assert (tmp_path / "state" / "hostname").read_text() == "box\n"
    hosts = (tmp_path / "state" / "hosts").read_text()
    assert "127.0.0.1\tlocalhost\n" in hosts and "127.0.1.1\tbox box.lan\n" in hosts and "10.0.0.5\tdb\n" in hosts
    assert "nameserver 10.0.2.3" in (tmp_path / "state" / "resolv.conf").read_text()
