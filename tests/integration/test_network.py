"""Networking: the seed's veth pair, bridges, published ports, rootless pasta/slirp4netns,
and nothing left behind (issue 6).  Every test runs nsbox inside network namespaces
it creates (nethelpers.TestNet); traffic goes only to those namespaces."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from ..conftest import SESSION
from .nethelpers import HOST_ADDR, TestNet, exchange, refused, wait_for

SERVER = "nc -ll -p {port} -e sh -c 'read l; echo got:$l'"   # busybox: one reply per connection
_count = [0]


@pytest.fixture(scope="module", autouse=True)
def network_store(tmp_path_factory):
    """This session's own network definitions and leases (names/subnets never collide)."""
    path = str(tmp_path_factory.mktemp("networks"))
    old = os.environ.get("NSBOX_NETWORK_DIR")
    os.environ["NSBOX_NETWORK_DIR"] = path
    yield path
    if old is None:
        os.environ.pop("NSBOX_NETWORK_DIR", None)
    else:
        os.environ["NSBOX_NETWORK_DIR"] = old


@pytest.fixture
def tnet():
    _count[0] += 1
    net = TestNet(f"nbt{SESSION[:6]}{_count[0]}").create()
    yield net
    net.delete()


@pytest.fixture(scope="module")
def tun_usable():
    """The test set-up lets users open /dev/net/tun (0600 on this machine by default)."""
    st = os.stat("/dev/net/tun")
    if st.st_mode & 0o006 != 0o006:
        os.chmod("/dev/net/tun", 0o666)
    yield
    if st.st_mode & 0o006 != 0o006:
        os.chmod("/dev/net/tun", st.st_mode & 0o7777)  # as we found it


def leases(store: str) -> list[str]:
    return [f for f in os.listdir(store) if f.endswith(".leases")]


def inspect(tnet: TestNet, runner, name: str) -> dict:
    return json.loads(tnet.nsbox(runner, "network", "inspect", name, check=True).stdout)[0]


def wait_member(tnet: TestNet, runner, net: str, name: str, timeout: float = 20) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for info in inspect(tnet, runner, net)["containers"].values():
            if info["name"] == name:
                return info["address"]
        time.sleep(0.1)
    raise AssertionError(f"container {name} never joined network {net}")


def stop(p: subprocess.Popen) -> tuple[str, str]:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    return out, err


@pytest.mark.root
def test_seed_veth_recipe(root_runner, busybox_rootfs, tnet, network_store):
    """The seed: a veth pair, 172.12.0.11/24 on the host end, .12 in the container, ping."""
    # busybox 1.35's ping opens a raw socket only (CAP_NET_RAW, not in the default set); iputils'
    # ping uses an ICMP datagram socket and works without it (test_privileges.py)
    r = tnet.nsbox(root_runner, "run", "--rootfs", busybox_rootfs, "--network", "veth:172.12.0.11/24",
                   "--ip", "172.12.0.12", "--cap-add", "NET_RAW", "--", "sh", "-c",
                   "ip -o -4 addr show eth0; ping -c 1 -W 3 172.12.0.11 && echo PING-OK", check=True)
    assert "172.12.0.12/24" in r.stdout and "PING-OK" in r.stdout
    # and from the host end to the container, while it runs
    p = tnet.popen(root_runner, "run", "--init", "--rootfs", busybox_rootfs, "--network", "veth:172.12.0.11/24",
                   "--", "sleep", "30")
    try:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            ping = subprocess.run(["ip", "netns", "exec", tnet.name, "ping", "-c", "1", "-W", "1", "172.12.0.12"],
                                  capture_output=True, text=True)
            if ping.returncode == 0:
                break
            time.sleep(0.2)
        assert ping.returncode == 0, ping.stdout + ping.stderr
    finally:
        stop(p)
    assert tnet.leftovers() == []


@pytest.mark.root
def test_bridge_tcp_by_address_and_name(root_runner, busybox_rootfs, tnet, network_store):
    net = f"t{SESSION}"
    tnet.nsbox(root_runner, "network", "create", net, "--subnet", "10.89.3.0/24", check=True)
    srv = tnet.popen(root_runner, "run", "--init", "--rootfs", busybox_rootfs, "--network", net, "--name",
                     f"srv{SESSION}", "--", "sh", "-c", SERVER.format(port=7000))
    try:
        addr = wait_member(tnet, root_runner, net, f"srv{SESSION}")
        assert addr.startswith("10.89.3.")
        wait_for(tnet.path, addr, 7000, b"got:ping")  # the host reaches it through the bridge
        r = tnet.nsbox(root_runner, "run", "--rootfs", busybox_rootfs, "--network", net, "--name",
                       f"cli{SESSION}", "--", "sh", "-c",
                       f"echo by-address | nc {addr} 7000; echo by-name | nc srv{SESSION} 7000; "
                       "ip route; cat /etc/hostname", check=True)
        assert "got:by-address" in r.stdout and "got:by-name" in r.stdout
        assert "default via 10.89.3.1" in r.stdout
        # the server learnt the client's name too, and forgot it when it left
        hosts = tnet.nsbox(root_runner, "network", "inspect", net, check=True).stdout
        assert f"cli{SESSION}" not in hosts
    finally:
        stop(srv)
    assert inspect(tnet, root_runner, net)["containers"] == {}
    tnet.nsbox(root_runner, "network", "rm", net, check=True)
    assert tnet.leftovers() == [] and leases(network_store) == []


@pytest.mark.root
def test_published_ports(root_runner, busybox_rootfs, tnet, network_store):
    srv = tnet.popen(root_runner, "run", "--init", "--rootfs", busybox_rootfs, "--name", f"web{SESSION}",
                     "-p", "127.0.0.1:8081:80", "-p", "8082:80", "-p", "8083:80/udp",
                     "--", "sh", "-c", SERVER.format(port=80))
    try:
        # from the host itself, on its loopback and on its own address
        wait_for(tnet.path, "127.0.0.1", 8081, b"got:ping")
        assert b"got:hello" in exchange(tnet.path, "127.0.0.1", 8082, b"hello\n")
        assert b"got:hello" in exchange(tnet.path, HOST_ADDR, 8082, b"hello\n")
        # from another host
        outside = f"/run/netns/{tnet.outside}"
        assert b"got:far" in exchange(outside, HOST_ADDR, 8082, b"far\n")
        assert refused(outside, HOST_ADDR, 8081)  # published on 127.0.0.1 only
        # the same host port again: refused, naming the port and its holder
        r = tnet.nsbox(root_runner, "run", "--rootfs", busybox_rootfs, "-p", "8082:81", "--", "true")
        assert r.returncode == 125
        assert "publish `8082:81/tcp`: host port 8082/tcp is already published" in r.stderr
        assert f"container web{SESSION}" in r.stderr
    finally:
        stop(srv)
    assert tnet.leftovers() == [] and leases(network_store) == []


@pytest.mark.root
def test_twenty_concurrent_starts(root_runner, busybox_rootfs, tnet, network_store):
    net = f"c{SESSION}"
    tnet.nsbox(root_runner, "network", "create", net, "--subnet", "10.89.4.0/24", check=True)
    procs = [tnet.popen(root_runner, "run", "--rootfs", busybox_rootfs, "--network", net, "--", "sh", "-c",
                        "ip -o -4 addr show eth0; sleep 1") for _ in range(20)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _o, e in outs]
    addrs = [o.split("inet ")[1].split()[0] for o, _e in outs]
    assert len(set(addrs)) == 20, addrs
    assert all(a.startswith("10.89.4.") and a.endswith("/24") for a in addrs)
    assert tnet.leftovers() == [] and leases(network_store) == []
    tnet.nsbox(root_runner, "network", "rm", net, check=True)


@pytest.mark.root
def test_kill9_leaves_nothing(root_runner, busybox_rootfs, tnet, network_store):
    p = tnet.popen(root_runner, "run", "--init", "--rootfs", busybox_rootfs, "--name", f"k9{SESSION}", "-p", "8090:80",
                   "--", "sleep", "60")
    wait_member(tnet, root_runner, "nsbox", f"k9{SESSION}")
    assert any(n.startswith("veth") for n in tnet.links()) and "nsbox0" in tnet.links()
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    assert leases(network_store) != []  # held until someone collects them ...
    tnet.nsbox(root_runner, "run", "--network", "none", "--", "true", check=True)  # ... the next command
    assert tnet.leftovers() == [] and leases(network_store) == []


@pytest.mark.root
def test_network_errors(root_runner, busybox_rootfs, tnet, network_store):
    net = f"e{SESSION}"
    tnet.nsbox(root_runner, "network", "create", net, "--subnet", "10.89.5.0/30", check=True)
    r = tnet.nsbox(root_runner, "network", "create", f"o{SESSION}", "--subnet", "10.89.5.0/24")
    assert r.returncode == 1 and f"subnet 10.89.5.0/24 overlaps network `{net}` (10.89.5.0/30)" in r.stderr
    r = tnet.nsbox(root_runner, "network", "create", f"o{SESSION}", "--subnet", "198.18.0.0/16")
    assert "overlaps the host's route to 198.18.0.0/24 (dev up0)" in r.stderr
    r = tnet.nsbox(root_runner, "run", "--network", "nosuchnet", "--", "true")
    assert r.returncode == 125 and "--network `nosuchnet`: no such network" in r.stderr
    hold = tnet.popen(root_runner, "run", "--init", "--rootfs", busybox_rootfs, "--network", net, "--name",
                      f"h{SESSION}", "--", "sleep", "60")
    try:
        wait_member(tnet, root_runner, net, f"h{SESSION}")
        r = tnet.nsbox(root_runner, "run", "--rootfs", busybox_rootfs, "--network", net, "--", "true")
        assert r.returncode == 125 and f"network `{net}`: address pool 10.89.5.0/30 exhausted" in r.stderr
        r = tnet.nsbox(root_runner, "network", "rm", net)
        assert r.returncode == 1 and f"network rm `{net}`: in use by 1 container(s): h{SESSION}" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        stop(hold)
    tnet.nsbox(root_runner, "network", "rm", net, check=True)
    assert tnet.leftovers() == [] and leases(network_store) == []


def test_etc_files_generated(runner, busybox_rootfs):
    """hostname, hosts and resolv.conf are the container's, the image untouched."""
    r = runner.run("run", "--rootfs", busybox_rootfs, "--hostname", "box1", "--add-host", "db:10.1.2.3",
                   "--dns", "192.0.2.53", "--", "sh", "-c",
                   "cat /etc/hostname; grep box1 /etc/hosts; grep db /etc/hosts; cat /etc/resolv.conf", check=True)
    assert r.stdout.splitlines()[0] == "box1"
    assert "127.0.1.1\tbox1" in r.stdout and "10.1.2.3\tdb" in r.stdout and "nameserver 192.0.2.53" in r.stdout
    assert not os.path.exists(f"{busybox_rootfs}/etc/hosts") and not os.path.exists(f"{busybox_rootfs}/etc/hostname")
    # the embedded default root (the host's /etc, read-only): the files cover the host's
    with open("/etc/hostname") as f:
        before = f.read()
    r = runner.run("run", "--hostname", "box2", "--", "cat", "/etc/hostname", check=True)
    assert r.stdout == "box2\n"
    with open("/etc/hostname") as f:
        assert f.read() == before


@pytest.mark.rootless
@pytest.mark.parametrize("helper", ["pasta", "slirp4netns"])
def test_rootless_published_port(rootless_runner, busybox_rootfs, tnet, tun_usable, helper):
    """A rootless container serving on a published port, reached on the host's 127.0.0.1."""
    port = 8100 if helper == "pasta" else 8101
    srv = tnet.popen(rootless_runner, "run", "--init", "--rootfs", busybox_rootfs, "--network", helper,
                     "-p", f"127.0.0.1:{port}:80", "--", "sh", "-c",
                     "ip -o -4 addr show eth0; " + SERVER.format(port=80))
    try:
        wait_for(tnet.path, "127.0.0.1", port, b"got:ping")
        assert b"got:hello" in exchange(tnet.path, "127.0.0.1", port, b"hello\n")
    finally:
        out, err = stop(srv)
    assert "eth0" in out, err
    left = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout
    assert f"{port}:80" not in left  # the pasta/slirp4netns process is gone


@pytest.mark.rootless
def test_rootless_kill9_stops_helper(rootless_runner, busybox_rootfs, tnet, tun_usable):
    p = tnet.popen(rootless_runner, "run", "--init", "--rootfs", busybox_rootfs, "--network", "pasta", "-p",
                   "127.0.0.1:8102:80", "--", "sh", "-c", SERVER.format(port=80))
    wait_for(tnet.path, "127.0.0.1", 8102, b"got:ping")
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    tnet.nsbox(rootless_runner, "run", "--network", "none", "--", "true", check=True)
    left = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout
    assert "8102:80" not in left


@pytest.mark.rootless
def test_rootless_bridge_refused(rootless_runner):
    r = rootless_runner.run("run", "--network", "bridge", "--", "true")
    assert r.returncode == 125 and "bridge networks need root" in r.stderr


@pytest.mark.root
def test_detached_default_is_bridge(root_runner, busybox_rootfs, tnet, network_store):
    """run -d: Docker's default, a bridge network (a foreground run keeps loopback only)."""
    r = tnet.nsbox(root_runner, "run", "--rootfs", busybox_rootfs, "--", "ip", "-o", "link", check=True)
    assert "eth0" not in r.stdout
    name = f"d{SESSION}"
    tnet.nsbox(root_runner, "run", "-d", "--name", name, "--rootfs", busybox_rootfs, "-p", "8095:80", "--",
               "sh", "-c", SERVER.format(port=80), check=True)
    try:
        assert wait_member(tnet, root_runner, "nsbox", name).startswith("10.90.")
        wait_for(tnet.path, "127.0.0.1", 8095, b"got:ping")
    finally:
        tnet.nsbox(root_runner, "rm", "-f", name, check=True)
    assert tnet.leftovers() == [] and leases(network_store) == []


@pytest.mark.rootless
def test_rootless_detached_default_is_pasta(rootless_runner, busybox_rootfs, tnet, tun_usable):
    name = f"p{SESSION}"
    tnet.nsbox(rootless_runner, "run", "-d", "--name", name, "--rootfs", busybox_rootfs, "-p",
               "127.0.0.1:8096:80", "--", "sh", "-c", SERVER.format(port=80), check=True)
    try:
        wait_for(tnet.path, "127.0.0.1", 8096, b"got:ping")
        r = tnet.nsbox(rootless_runner, "exec", name, "ip", "-o", "-4", "addr", "show", "eth0", check=True)
        assert HOST_ADDR in r.stdout  # pasta copies the host's address
    finally:
        tnet.nsbox(rootless_runner, "rm", "-f", name, check=True)
    left = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout
    assert "8096:80" not in left
