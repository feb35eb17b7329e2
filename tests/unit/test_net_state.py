"""Network definitions, IPAM leases (concurrent too), /etc files, nft elements, pasta arguments."""

from __future__ import annotations

import os

import pytest

from nsbox.errors import ConfigError
from nsbox.net import etcfiles, firewall, ipam, ipv4, usermode
from nsbox.net.mode import NetMode
from nsbox.net.ports import parse
from nsbox.net.store import NetworkError, Store


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "nets"))


def info(tmp_path, n):
    d = tmp_path / f"c{n}"
    d.mkdir(exist_ok=True)
    return {"name": f"c{n}", "state": str(d)}


def test_create_checks(store):
    with store:
        n = store.create("a", "10.89.0.0/24")
        assert (n.gateway, n.bridge) == ("10.89.0.1", "nsbox1")
        assert store.create("b").subnet == "10.91.0.0/24"  # the first free /24 of the pool
        assert store.create("c").subnet == "10.91.1.0/24"
        with pytest.raises(NetworkError, match=r"subnet 10.89.0.0/16 overlaps network `a` \(10.89.0.0/24\)"):
            store.create("d", "10.89.0.0/16")
        with pytest.raises(NetworkError, match="overlaps network `nsbox`"):
            store.create("d", "10.90.5.0/24")
        with pytest.raises(NetworkError, match="overlaps the host's route to 192.168.1.0/24 .dev eth0."):
            store.create("d", "192.168.0.0/16", routes=[("192.168.1.0/24", "eth0")])
        with pytest.raises(NetworkError, match="already exists"):
            store.create("a", "10.88.0.0/24")
        with pytest.raises(NetworkError, match="reserved"):
            store.create("host", "10.88.0.0/24")
        with pytest.raises(ConfigError, match="host bits"):
            store.create("d", "10.88.0.1/24")
        with pytest.raises(NetworkError, match="gateway `10.88.1.1` is not a host address"):
            store.create("d", "10.88.0.0/24", gateway="10.88.1.1")
    assert [n.name for n in store.all()] == ["nsbox", "a", "b", "c"]
    store.remove("c")
    with pytest.raises(NetworkError, match="no such network"):
        store.get("c")
    with pytest.raises(NetworkError, match="default network cannot be removed"):
        store.remove("nsbox")


def test_leases(store, tmp_path):
    with store:
        net = store.create("a", "10.89.0.0/29")  # .1 gateway, .2-.6 for containers
        got = [ipam.allocate(store, net, f"id{i}", info(tmp_path, i)) for i in range(5)]
        assert got == [f"10.89.0.{i}" for i in range(2, 7)]
        assert ipam.allocate(store, net, "id0", info(tmp_path, 0)) == "10.89.0.2"  # idempotent
        with pytest.raises(NetworkError, match=r"address pool 10.89.0.0/29 exhausted"):
            ipam.allocate(store, net, "id9", info(tmp_path, 9))
        assert ipam.release(store, "a", "id1") == ["10.89.0.3"]
        # round robin: the freed .3 is not handed out again before the pool wraps
        assert ipam.allocate(store, net, "id7", info(tmp_path, 7)) == "10.89.0.3"
        with pytest.raises(NetworkError, match="already in use by container c2"):
            ipam.allocate(store, net, "id8", info(tmp_path, 8), want="10.89.0.4")
        with pytest.raises(NetworkError, match="is the network's gateway"):
            ipam.allocate(store, net, "id8", info(tmp_path, 8), want="10.89.0.1")
        with pytest.raises(NetworkError, match="not a host address"):
            ipam.allocate(store, net, "id8", info(tmp_path, 8), want="10.89.1.4")


def test_stale_leases_are_reclaimed(store, tmp_path):
    with store:
        net = store.create("a", "10.89.0.0/30")
        i = info(tmp_path, 1)
        assert ipam.allocate(store, net, "id1", i) == "10.89.0.2"
        os.rmdir(i["state"])  # the container's state root was removed after a crash
        assert ipam.allocate(store, net, "id2", info(tmp_path, 2)) == "10.89.0.2"
        assert [a for a, _ in ipam.members(store, "a")] == ["10.89.0.2"]


def test_concurrent_allocations_are_distinct(store, tmp_path):
    with store:
        net = store.create("a", "10.89.0.0/24")
    pids = []
    for n in range(20):
        pid = os.fork()
        if pid == 0:
            try:
                with Store(store.path) as s:
                    ipam.allocate(s, net, f"id{n}", info(tmp_path, n))
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    addrs = [a for a, _ in ipam.members(store, "a")]
    assert len(addrs) == 20 and len(set(addrs)) == 20


def test_lock_is_reentrant(store):
    with store:
        with Store(store.path):
            pass
        assert os.path.exists(f"{store.path}/lock")


def test_hosts_text_and_rewrite_in_place(tmp_path):
    p = tmp_path / "hosts"
    etcfiles.write_new(str(p), "old\n")
    ino = p.stat().st_ino
    text = etcfiles.hosts_text("h", [("10.89.0.2", ["web", "h"])], [("db", "10.0.0.5")],
                               peers=[("10.89.0.3", ["cli"])])
    etcfiles.rewrite(str(p), text)
    assert p.stat().st_ino == ino
    body = p.read_text()
    assert "10.89.0.2\tweb h\n10.89.0.3\tcli\n10.0.0.5\tdb\n" in body and "old" not in body


def test_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch lan\noptions edns0\n")
    out = etcfiles.resolv_text("bridge", [], str(conf))
    assert "nameserver 192.0.2.1\n" in out and "127.0.0.53" not in out and "search lan\n" in out
    conf.write_text("nameserver 127.0.0.53\n")
    assert "nameserver 8.8.8.8" in etcfiles.resolv_text("bridge", [], str(conf))
    assert "nameserver 169.254.1.1" in etcfiles.resolv_text("pasta", [], str(conf))
    assert "nameserver 127.0.0.53" in etcfiles.resolv_text("none", [], str(conf))
    assert etcfiles.resolv_text("bridge", ["1.1.1.1"], str(conf)).count("nameserver") == 1


def test_port_elements():
    items = firewall.port_elements([parse("8080:80"), parse("127.0.0.1:8081:81/udp")], "10.89.0.2")
    assert items == [("ports", [{"concat": ["tcp", 8080]}, {"concat": ["10.89.0.2", 80]}]),
                     ("addr_ports", [{"concat": ["127.0.0.1", "udp", 8081]}, {"concat": ["10.89.0.2", 81]}])]
    assert firewall.network_elements("nsbox1", "10.89.0.0/24")[0] == \
        ("subnets", {"prefix": {"addr": "10.89.0.0", "len": 24}})


def test_pasta_arguments():
    args = usermode.pasta_args(NetMode("pasta"), [parse("8080:80"), parse("127.0.0.1:5353:53/udp")], "/s")
    assert ["-t", "8080:80"] == args[args.index("-t"):args.index("-t") + 2]
    assert ["-u", "127.0.0.1/5353:53"] == args[args.index("-u"):args.index("-u") + 2]
    assert "--no-map-gw" in args and ["-T", "none"] == args[args.index("-T"):args.index("-T") + 2]
    loose = usermode.pasta_args(NetMode("pasta", options=("allow_host_loopback=true", "--ipv4-only")), [], "/s")
    assert "--no-map-gw" not in loose and "--ipv4-only" in loose and ["-t", "none"] == loose[
        loose.index("-t"):loose.index("-t") + 2]


def test_tun_message(monkeypatch):
    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(usermode.os, "open", denied)
    with pytest.raises(NetworkError, match=r"--network pasta: /dev/net/tun: Permission denied .*chmod 0666"):
        usermode.check_tun("pasta")


def test_slirp_address():
    assert usermode._slirp_address("") == "10.0.2.100"
    assert usermode._slirp_address("10.5.0.0/24") == "10.5.0.100"
    assert ipv4.parse(usermode._slirp_address("10.5.0.0/24"))
