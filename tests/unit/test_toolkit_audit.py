"""nsbox audit: the judgement on hand-made facts and on a fake /proc."""

from __future__ import annotations

from nsbox.inspect import audit as A
from nsbox.procfs import MountInfo

from .fakeproc import HOST, NS, add_proc

DEFAULT_CAPS = 0x00000000800405fb  # nsbox's (Podman's) default set
DOCKER_CAPS = 0x00000000a80425fb  # Docker's: + NET_RAW, MKNOD, AUDIT_WRITE
PRIVATE = {t: 4026532200 + i for i, t in enumerate(NS)}
ROOTFS = ["66 43 254:0 /box / rw,relatime - ext4 /dev/vda rw",
          "67 66 0:40 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
          "57 67 0:40 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw",
          "79 66 0:49 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro",
          "58 67 0:40 /sysrq-trigger /proc/sysrq-trigger ro,nosuid,nodev,noexec,relatime - proc proc rw"]


def facts(ns=None, caps=DEFAULT_CAPS, nnp="1", seccomp="2", uid_map=None, mounts=ROOTFS,
          host_mounts=("1 0 254:0 / / rw shared:1 - ext4 /dev/vda rw",), devices=(), euid=0):
    f = A.Facts()
    f.pid = 42
    f.ns = dict(ns if ns is not None else PRIVATE)
    f.host_ns = dict(HOST)
    capx = f"{caps:016x}"
    f.status = {"Uid": f"{euid}\t{euid}\t{euid}\t{euid}", "CapEff": capx, "CapPrm": capx, "CapBnd": capx,
                "CapInh": "0" * 16, "CapAmb": "0" * 16, "NoNewPrivs": nnp, "Seccomp": seccomp,
                "Seccomp_filters": "1"}
    if uid_map is None:  # the host's identity map, or a subordinate range in a user namespace
        uid_map = ((0, 0, 4294967295),) if f.ns["user"] == HOST["user"] else ((0, 100000, 65536),)
    f.uid_map = list(uid_map)
    f.mounts = [MountInfo(x) for x in mounts]
    f.host_mounts = [MountInfo(x) for x in host_mounts]
    f.devices = list(devices)
    return f


def severities(findings, check=None):
    return {x.severity for x in findings if check is None or x.check.startswith(check)}


def test_hardened_container_has_no_high_finding():
    ns = dict(PRIVATE, user=HOST["user"], time=HOST["time"])  # runc's default set for root
    out = A.judge(facts(ns))
    assert "high" not in severities(out)
    assert severities(out, "namespace net") == {"ok"}
    assert severities(out, "namespace time") == {"info"}


def test_host_network_and_pid_are_high():
    ns = dict(PRIVATE, user=HOST["user"], net=HOST["net"], pid=HOST["pid"])
    out = A.judge(facts(ns))
    high = [x for x in out if x.severity == "high"]
    assert {x.check for x in high} >= {"namespace net", "namespace pid"}
    assert all(x.why for x in out if x.severity != "ok")
    assert out[0].severity == "high"  # sorted most severe first


def test_full_capabilities_in_host_userns_are_high_but_not_in_own_userns():
    host_user = dict(PRIVATE, user=HOST["user"])
    assert "high" in severities(A.judge(facts(host_user, caps=(1 << 41) - 1)), "capabilities")
    own = A.judge(facts(PRIVATE, caps=(1 << 41) - 1, uid_map=((0, 1000, 1),)))
    assert severities(own, "capabilities") == {"ok"}
    assert severities(own, "root mapping") == {"ok"}


def test_default_set_is_ok_dockers_extras_are_low():
    host_user = dict(PRIVATE, user=HOST["user"])
    assert severities(A.judge(facts(host_user)), "capabilities") == {"ok"}
    out = [x for x in A.judge(facts(host_user, caps=DOCKER_CAPS)) if x.check == "capabilities"]
    assert [x.severity for x in out] == ["low"]
    assert out[0].finding.endswith("CAP_AUDIT_WRITE, CAP_MKNOD, CAP_NET_RAW") and "raw and packet" in out[0].why


def test_net_raw_is_high_only_with_the_host_network():
    cap_net_raw = 1 << 13
    assert severities(A.judge(facts(dict(PRIVATE, user=HOST["user"]), caps=cap_net_raw)), "capabilities") != {"high"}
    shared = dict(PRIVATE, user=HOST["user"], net=HOST["net"])
    assert "high" in severities(A.judge(facts(shared, caps=cap_net_raw)), "capabilities")


def test_root_mapped_to_host_root_in_a_user_namespace_is_high():
    out = A.judge(facts(PRIVATE, uid_map=((0, 0, 65536),)))
    assert severities(out, "root mapping") == {"high"}


def test_no_seccomp_no_nnp():
    out = A.judge(facts(nnp="0", seccomp="0"))
    assert severities(out, "seccomp") == {"medium"}
    assert severities(out, "no_new_privs") == {"low"}


def test_cgroup_namespace_leak_is_reported():
    out = A.judge(facts(dict(PRIVATE, cgroup=HOST["cgroup"])))
    f = next(x for x in out if x.check == "namespace cgroup")
    assert f.severity == "medium" and "system.slice" in f.why


def test_propagation_shared_with_host_peer_group():
    mounts = ROOTFS + ["80 66 254:0 /data /data rw shared:1 - ext4 /dev/vda rw",
                       "81 66 254:0 /in /in rw master:1 - ext4 /dev/vda rw"]
    out = A.judge(facts(mounts=mounts))
    prop = {x.severity: x.finding for x in out if x.check == "mount propagation"}
    assert "/data" in prop["high"] and "/in" in prop["low"]


def test_writable_proc_sys_high_in_host_userns_low_in_own():
    rw = [ROOTFS[0], ROOTFS[1], ROOTFS[3]]  # no read-only /proc/sys bind: /proc (rw) covers it
    host_user = dict(PRIVATE, user=HOST["user"])
    f = facts(host_user, mounts=rw)
    f.present = {"/proc/sysrq-trigger": False}
    out = A.judge(f)
    assert [x.finding for x in out if x.severity == "high"] == ["/proc/sys is writable"]
    own = A.judge(facts(PRIVATE, mounts=rw, uid_map=((0, 1000, 1),)))
    assert severities(own, "writable") == {"low"}


def test_host_devices():
    out = A.judge(facts(devices=[("/proc/42/root/dev/null", "c", 1, 3), ("/proc/42/root/dev/sda", "b", 8, 0),
                                 ("/proc/42/root/dev/kmsg", "c", 1, 11)]))
    dev = {x.finding: x.severity for x in out if x.check == "host devices"}
    assert dev == {"/dev/sda (b 8:0)": "high", "/dev/kmsg (c 1:11)": "medium"}
    devtmpfs = ROOTFS + ["90 66 0:5 / /dev rw - devtmpfs udev rw", "91 66 0:5 /null /x rw - devtmpfs udev rw"]
    out = A.judge(facts(mounts=devtmpfs))
    assert [x.finding for x in out if x.severity == "high"] == ["the host's /dev (devtmpfs) is mounted at /dev"]


def test_shared_mount_namespace_skips_mount_checks():
    out = A.judge(facts(dict(PRIVATE, mnt=HOST["mnt"])))
    assert severities(out, "namespace mnt") == {"high"}
    assert not [x for x in out if x.check in ("mount propagation", "host devices")]


def test_gather_reads_a_fake_proc(tmp_path):
    proc = tmp_path / "proc"
    add_proc(proc, 1, 0, comm="init", mountinfo=ROOTFS[0].replace("/box", "/") + "\n")
    add_proc(proc, 42, 1, comm="app", ns=PRIVATE | {"user": HOST["user"]}, mountinfo="\n".join(ROOTFS) + "\n",
             status={"CapEff": f"{DOCKER_CAPS:016x}", "NoNewPrivs": "1", "Seccomp": "2"})
    f = A.gather(42, proc=str(proc), sys_fs_cgroup=str(tmp_path / "cgroup"))
    assert f.host_pid == 1 and f.ns["net"] == PRIVATE["net"]
    assert f.uid_map == [(0, 0, 4294967295)]
    assert len(f.mounts) == 5
    out = A.judge(f)
    assert "high" not in severities(out)
