"""nsbox run: the eight namespaces, rootful and rootless (issue 2 acceptance)."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

KINDS = {"user": "user", "mnt": "mount", "pid": "pid", "net": "network", "ipc": "ipc", "uts": "uts",
         "cgroup": "cgroup", "time": "time"}
SHOW_NS = "for n in user mnt pid net ipc uts cgroup time; do echo $n $(readlink /proc/self/ns/$n); done"


def ns_of_container(runner, *args: str) -> dict[str, str]:
    r = runner.run("run", *args, "--", "sh", "-c", SHOW_NS, check=True)
    return dict(line.split(" ", 1) for line in r.stdout.strip().splitlines())


def host_ns() -> dict[str, str]:
    return {n: os.readlink(f"/proc/self/ns/{n}") for n in KINDS}


def test_all_eight_are_new(runner):
    inside = ns_of_container(runner)
    host = host_ns()
    for n in KINDS:
        if n == "user" and not runner.rootless:
            # as runc does, root gets no user namespace unless asked (--userns)
            assert inside[n] == host[n]
        else:
            assert inside[n] != host[n], n


@pytest.mark.parametrize("kind", ["mnt", "pid", "net", "ipc", "uts", "cgroup", "time"])
def test_each_can_be_shared(runner, kind):
    inside = ns_of_container(runner, "--share", kind)
    host = host_ns()
    assert inside[kind] == host[kind]
    others = [n for n in KINDS if n not in (kind, "user")]
    assert all(inside[n] != host[n] for n in others)


@pytest.mark.root
def test_user_namespace_on_request_as_root(root_runner):
    inside = ns_of_container(root_runner, "--uidmap", "0:100000:65536")
    assert inside["user"] != host_ns()["user"]


@pytest.mark.root
def test_join_namespace_by_path(root_runner):
    name = f"nsboxt{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "add", "probe0", "type", "veth", "peer",
                        "name", "probe1"], check=True)
        r = root_runner.run("run", "--ns", f"net=/run/netns/{name}", "--", "ip", "-o", "link", check=True)
        assert "probe0" in r.stdout
        want = os.readlink(f"/proc/{os.getpid()}/ns/net")  # ours, to be sure it differs
        r2 = root_runner.run("run", "--network", f"ns:/run/netns/{name}", "--", "readlink", "/proc/self/ns/net",
                             check=True)
        assert r2.stdout.strip() != want
    finally:
        subprocess.run(["ip", "netns", "del", name])


def test_hostname_isolated(runner):
    before = os.uname().nodename
    # (sethostname needs CAP_SYS_ADMIN: not in the default set, as in Docker)
    r = runner.run("run", "--cap-add", "SYS_ADMIN", "--hostname", "box1", "--domainname", "dom1", "--",
                   "sh", "-c", "hostname; cat /proc/sys/kernel/domainname; hostname other; hostname", check=True)
    assert r.stdout.split() == ["box1", "dom1", "other"]
    assert os.uname().nodename == before


def test_default_hostname_is_short_id(runner):
    r = runner.run("run", "--", "hostname", check=True)
    assert re.fullmatch(r"[0-9a-f]{12}", r.stdout.strip())


def test_pid_one_and_ps(runner):
    r = runner.run("run", "--", "sh", "-c", "echo $$; ps -e -o pid=,comm=", check=True)
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "1"
    pids = [int(line.split()[0]) for line in lines[1:]]
    assert pids and max(pids) < 10  # only the container's own processes


def test_ipcs_empty(runner):
    key = None
    if os.geteuid() == 0:
        out = subprocess.run(["ipcmk", "-M", "4096"], capture_output=True, text=True, check=True).stdout
        key = out.split()[-1]
    try:
        host = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout
        r = runner.run("run", "--", "ipcs", "-m", check=True)
        inside_rows = [line for line in r.stdout.splitlines() if line.startswith("0x")]
        assert inside_rows == []
        if key:
            assert key in host
    finally:
        if key:
            subprocess.run(["ipcrm", "-m", key])


def test_cgroup_namespace_root(runner):
    """Inside, every cgroup is "/"; the host sees the real one: the container's own
    (root: <parent>/<id> in every hierarchy) or, rootless without a cgroup of its
    own, the caller's."""
    from ..conftest import CGROUP_PARENT

    r = runner.run("run", "--", "cat", "/proc/self/cgroup", check=True)
    paths = [line.split(":", 2)[2] for line in r.stdout.strip().splitlines()]
    assert paths and all(p == "/" for p in paths), r.stdout
    cid = runner.run("run", "-d", "--", "sleep", "60", check=True).stdout.strip()
    try:
        pid = next(e["pid"] for e in json.loads(runner.run("ps", "--format", "json", check=True).stdout)
                   if e["id"] == cid)
        host_view = dict(line.split(":", 2)[::2] for line in open(f"/proc/{pid}/cgroup").read().splitlines())
        if runner.rootless:
            ours = dict(line.split(":", 2)[::2] for line in open("/proc/self/cgroup").read().splitlines())
            assert host_view == ours
        else:
            assert host_view and all(p == f"{CGROUP_PARENT}/{cid}" for p in host_view.values()), host_view
    finally:
        runner.run("rm", "-f", cid)


def test_time_offset_in_uptime(runner):
    host_up = float(open("/proc/uptime").read().split()[0])
    r = runner.run("run", "--time-offset", "boottime=86400", "--time-offset", "monotonic=3600", "--",
                   "cat", "/proc/uptime", check=True)
    inside = float(r.stdout.split()[0])
    assert 86400 + host_up - 5 < inside < 86400 + host_up + 60


def test_time_offset_needs_time_namespace(runner):
    r = runner.run("run", "--share", "time", "--time-offset", "boottime=10", "--", "true")
    assert r.returncode == 125
    assert "time namespace" in r.stderr


def test_network_loopback_only(runner):
    r = runner.run("run", "--", "cat", "/proc/net/dev", check=True)
    ifaces = [line.split(":")[0].strip() for line in r.stdout.splitlines()[2:]]
    assert ifaces == ["lo"]
    r = runner.run("run", "--", "sh", "-c", "cat /sys/class/net/lo/operstate /sys/class/net/lo/flags", check=True)
    assert int(r.stdout.split()[1], 16) & 1  # IFF_UP


@pytest.mark.root
def test_network_host(root_runner):
    r = root_runner.run("run", "--network", "host", "--", "readlink", "/proc/self/ns/net", check=True)
    assert r.stdout.strip() == os.readlink("/proc/self/ns/net")
