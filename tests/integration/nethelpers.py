"""Network namespaces the network tests make for themselves, and probes into them.

A TestNet is a "host" namespace (where nsbox runs, where its bridges and nft
table live) plus an "outside" namespace standing for another machine, joined by
a veth pair: host 198.18.0.1/24 <-> outside 198.18.0.254/24, the host's default
route via the outside.  No packet of these tests leaves them.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
HOST_ADDR, OUTSIDE_ADDR = "198.18.0.1", "198.18.0.254"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class TestNet:
    __test__ = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.outside = f"{name}o"
        self.uplink = "up0"

    @property
    def path(self) -> str:
        return f"/run/netns/{self.name}"

    def create(self) -> TestNet:
        sh("ip", "netns", "add", self.name)
        sh("ip", "netns", "add", self.outside)
        for ns in (self.name, self.outside):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # A new namespace copies the host's forwarding settings (devconf_inherit_init_net=0):
        # the test host is one that does not forward, whatever this machine's does (a
        # container engine may have turned it on), so that nsbox's per-uplink switch is seen.
        for key in ("net.ipv4.conf.all.forwarding", "net.ipv4.conf.default.forwarding"):
            sh("ip", "netns", "exec", self.name, "sysctl", "-q", "-w", f"{key}=0")
        # created inside the namespaces: nothing ever appears on the real host
        sh("ip", "-n", self.name, "link", "add", self.uplink, "type", "veth", "peer", "name", "dn0",
           "netns", self.outside)
        sh("ip", "-n", self.name, "addr", "add", f"{HOST_ADDR}/24", "dev", self.uplink)
        sh("ip", "-n", self.outside, "addr", "add", f"{OUTSIDE_ADDR}/24", "dev", "dn0")
        sh("ip", "-n", self.name, "link", "set", self.uplink, "up")
        sh("ip", "-n", self.outside, "link", "set", "dn0", "up")
        sh("ip", "-n", self.name, "route", "add", "default", "via", OUTSIDE_ADDR)
        return self

    def delete(self) -> None:
        for ns in (self.name, self.outside):
            sh("ip", "netns", "del", ns, check=False)

    # -- running things in the host namespace ----------------------------------
    def argv(self, runner, *args: str) -> list[str]:
        return ["nsenter", f"--net={self.path}", "--", *runner.argv(*args)]

    def nsbox(self, runner, *args: str, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess:
        r = subprocess.run(self.argv(runner, *args), capture_output=True, text=True, timeout=timeout,
                           env=runner.env(), cwd="/")
        if check and r.returncode != 0:
            raise AssertionError(f"nsbox {' '.join(args)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def popen(self, runner, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(runner, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=runner.env(), cwd="/")

    def links(self) -> list[str]:
        out = sh("ip", "-n", self.name, "-o", "link").stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]

    def leftovers(self) -> list[str]:
        """Links, nft tables and forwarding nsbox may have left in the host namespace."""
        left = [f"link {n}" for n in self.links() if "nsbox" in n or "veth" in n]
        tables = sh("ip", "netns", "exec", self.name, "nft", "list", "tables").stdout
        left += [f"nft {t}" for t in tables.splitlines() if "nsbox" in t]
        fwd = sh("ip", "netns", "exec", self.name, "sysctl", "-n",
                 f"net.ipv4.conf.{self.uplink}.forwarding").stdout.strip()
        if fwd != "0":
            left.append(f"forwarding on {self.uplink}: {fwd}")
        return left


def socket_in(ns_path: str, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A socket created in another network namespace (it stays there)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(ns_path, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns", ns_path)
        try:
            return socket.socket(socket.AF_INET, kind)
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(home)
        os.close(target)


def exchange(ns_path: str, addr: str, port: int, data: bytes = b"ping\n", timeout: float = 5) -> bytes:
    """Connect from a namespace, send a line, return everything the server answers."""
    s = socket_in(ns_path)
    try:
        s.settimeout(timeout)
        s.connect((addr, port))
        s.sendall(data)
        chunks = []
        while True:
            b = s.recv(4096)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def wait_for(ns_path: str, addr: str, port: int, want: bytes, timeout: float = 20) -> bytes:
    """Retry exchange() until the answer contains ``want`` (the server may still be starting)."""
    end = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < end:
        try:
            got = exchange(ns_path, addr, port, timeout=2)
            if want in got:
                return got
            last = got
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"{addr}:{port} in {ns_path}: never answered {want!r} (last: {last!r})")


def refused(ns_path: str, addr: str, port: int) -> bool:
    try:
        exchange(ns_path, addr, port, timeout=2)
    except (ConnectionRefusedError, TimeoutError, OSError):
        return True
    return False
