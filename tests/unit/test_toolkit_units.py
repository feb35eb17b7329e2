"""Toolkit pieces without privileges: container: namespace references, inspect's
document and template, target resolution, the netns releaser, enter's plan."""

from __future__ import annotations

import os

import pytest

from nsbox.cli.inspect import render_template
from nsbox.errors import ConfigError, NsboxError
from nsbox.inspect import caps, info, nsenter, target
from nsbox.runtime import netns
from nsbox.runtime.state import Store
from nsbox.specgen import builder as b
from nsbox.specgen.options import RunOptions

from .fakeproc import HOST, add_proc


class FakeHost(b.Host):
    """Containers `web` (pid 200, own user namespace) and `db` (pid 300, the host's)."""

    def __init__(self, euid: int) -> None:
        super().__init__(euid=euid, egid=euid)
        self.user_ns = {"/proc/self/ns/user": "user:[1]", "/proc/200/ns/user": "user:[2]",
                        "/proc/300/ns/user": "user:[1]", "/proc/400/ns/user": "user:[3]"}

    def container_pid(self, ref: str, what: str) -> int:
        pids = {"web": 200, "db": 300, "other": 400}
        if ref not in pids:
            raise ConfigError(f"{what}: no such container `{ref}`")
        return pids[ref]

    def ns_identity(self, path: str) -> str | None:
        return self.user_ns.get(path)

    def user_name(self) -> str:
        return "u"


def namespaces(euid: int, **kw):
    return b.namespaces(RunOptions(command=("sh",), **kw), FakeHost(euid))


def test_container_reference_joins_its_namespaces():
    ns = namespaces(0, pid="container:db", network="container:db", ipc="container:db")
    assert ns["pid"].path == "/proc/300/ns/pid"
    assert ns["network"].path == "/proc/300/ns/net"
    assert ns["ipc"].path == "/proc/300/ns/ipc"
    assert ns["user"] is None  # db is in the host's user namespace: nothing more to join
    assert ns["mount"].path is None and ns["uts"].path is None  # the rest stays new


def test_container_with_its_own_user_namespace_is_joined_there_too():
    ns = namespaces(0, pid="container:web")
    assert ns["user"].path == "/proc/200/ns/user"
    rootless = namespaces(1000, network="container:web")
    assert rootless["user"].path == "/proc/200/ns/user"  # not a new one: no id maps to write


def test_container_reference_errors():
    with pytest.raises(ConfigError, match="no such container `nope`"):
        namespaces(0, pid="container:nope")
    with pytest.raises(ConfigError, match="different user namespaces"):
        namespaces(0, pid="container:web", network="container:other")
    with pytest.raises(ConfigError, match="container:NAME"):
        namespaces(0, ipc="bogus")


def test_userns_container_reference_and_explicit_userns_wins():
    assert namespaces(1000, userns="container:web")["user"].path == "/proc/200/ns/user"
    ns = namespaces(1000, pid="container:web", userns="private")
    assert ns["user"].path is None


def test_template_lookup():
    doc = {"pid": 42, "hostname": "box", "process": {"comm": "sleep"}, "no_new_privs": False,
           "namespaces": [{"type": "mnt", "inode": 7}], "rootfs": None}
    assert render_template("{{.pid}} {{.Hostname}}", doc) == "42 box"
    assert render_template("{{.process.comm}}/{{.namespaces.0.inode}}", doc) == "sleep/7"
    assert render_template("{{.NoNewPrivs}} {{.rootfs}}", doc) == "false <no value>"
    assert render_template("{{json .process}}", doc) == '{"comm":"sleep"}'
    with pytest.raises(NsboxError, match="no field `nope`"):
        render_template("{{.nope}}", doc)


def test_caps_names():
    assert caps.names(0) == []
    assert caps.names(1 << 21 | 1) == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    assert caps.names(1 << 45) == ["CAP_45"]
    sets = caps.from_status({"CapEff": "0000000000200000", "CapBnd": "000001ffffffffff"})
    assert sets["effective"] == ["CAP_SYS_ADMIN"] and len(sets["bounding"]) == 41 and sets["ambient"] == []


def test_inspect_document_on_fake_proc(tmp_path):
    proc = tmp_path / "proc"
    add_proc(proc, 1, 0, comm="init")
    add_proc(proc, 42, 1, comm="app", cmdline="app --serve", ns={"net": 4026532300},
             uid_map="0 100000 65536\n", status={"NoNewPrivs": "1", "Seccomp": "2", "Seccomp_filters": "3"},
             cgroup="4:memory:/box\n3:cpu:/box\n0::/\n",
             mountinfo="66 43 254:0 /srv/box / rw - ext4 /dev/vda rw\n")
    t = target.Target(42, "42")
    doc = info.inspect(t, proc=str(proc))
    ns = {n["type"]: n for n in doc["namespaces"]}
    assert ns["net"] == {"type": "net", "inode": 4026532300, "shared_with_host": False, "path": "/proc/42/ns/net"}
    assert ns["mnt"]["shared_with_host"] is True and len(ns) == 8
    assert doc["uid_map"] == [{"inside": 0, "outside": 100000, "count": 65536}]
    assert doc["no_new_privs"] is True and doc["seccomp"] == {"mode": "filter", "filters": 3}
    assert doc["cgroup"] == "/box"  # hybrid: cgroup2 holds nothing, the v1 controllers' path
    assert doc["rootfs"]["root"] == "/srv/box" and doc["mounts"][0]["target"] == "/"
    assert doc["process"]["args"] == ["app", "--serve"] and doc["state"] == "sleeping"
    assert "CAP_SYS_ADMIN" in doc["capabilities"]["effective"]
    assert doc["host_reference_pid"] == 1


def test_host_reference_falls_back_to_kthreadd(tmp_path):
    proc = tmp_path / "proc"
    add_proc(proc, 1, 0, comm="init", ns={t: None for t in HOST})  # unreadable, like an init we cannot ptrace
    add_proc(proc, 2, 0, comm="kthreadd")
    pid, ns = target.host_reference(str(proc))
    assert pid == 2 and ns == HOST


def test_resolve(tmp_path):
    proc = tmp_path / "proc"
    add_proc(proc, 77, 1, comm="x")
    store = Store(str(tmp_path / "state"))
    store.ensure()
    assert target.resolve("77", "inspect", store, proc=str(proc)).pid == 77
    with pytest.raises(NsboxError, match="inspect `78`: no such process"):
        target.resolve("78", "inspect", store, proc=str(proc))
    with pytest.raises(NsboxError, match="inspect `web`: no such container or process"):
        target.resolve("web", "inspect", store, proc=str(proc))
    c = store.new("c" * 64, "web")
    c.init_state(status="stopped", name="web")
    c.release_ownership()
    with pytest.raises(NsboxError, match="container is not running"):
        target.resolve("web", "audit", store, proc=str(proc))
    t = target.resolve("web", "inspect", store, running=False, proc=str(proc))
    assert t.container is not None and t.pid == 0 and t.label == "web"


def test_ns_type_aliases():
    assert target.ns_type("network", "ns --type") == "net" and target.ns_type("MNT", "x") == "mnt"
    with pytest.raises(NsboxError, match="unknown namespace type"):
        target.ns_type("bogus", "ns --type")


def test_netns_release_removes_only_its_own(tmp_path):
    placeholder = tmp_path / "web"
    placeholder.write_text("")
    netns.release({"kind": "netns", "path": str(placeholder), "inode": 12345})
    assert not placeholder.exists()  # an empty file left by a crash between create and mount
    theirs = tmp_path / "theirs"
    theirs.write_text("not a namespace")
    netns.release({"kind": "netns", "path": str(theirs), "inode": 12345})
    assert theirs.exists()
    netns.release({"kind": "netns", "path": str(tmp_path / "gone"), "inode": 1})  # idempotent
    netns.release({"kind": "netns", "path": "relative", "inode": 1})


def test_enter_plan_skips_namespaces_we_are_in():
    p = nsenter.plan(os.getpid(), ["net", "uts", "ipc", "user"], ["true"])
    try:
        assert p.fds == []  # setns(2) into one's own user namespace fails: nothing to join
    finally:
        p.close()


def test_enter_cli_namespace_choice():
    from nsbox.cli.args import UsageError
    from nsbox.cli.enter import COMMAND, kinds_from

    values, cmd = COMMAND.parse(["-t", "1", "-n", "-u", "--", "ip", "a"])
    assert kinds_from(values) == ["uts", "net"] and cmd == ["ip", "a"]
    values, _ = COMMAND.parse(["-t", "1", "--host-tools", "ip"])
    assert "mnt" not in kinds_from(values) and len(kinds_from(values)) == 7
    values, _ = COMMAND.parse(["-t", "1", "-m", "--host-tools", "ip"])
    with pytest.raises(UsageError, match="drop --mount"):
        kinds_from(values)
