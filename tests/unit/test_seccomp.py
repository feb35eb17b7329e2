"""nsbox.seccomp: Docker profile -> OCI form, the BPF compiler, its cache, and the
default profile's effect on a real (unprivileged, no_new_privs) child process."""

from __future__ import annotations

import ctypes
import errno
import os

import pytest

from nsbox.errors import ConfigError
from nsbox.seccomp import bpf, profile
from nsbox.seccomp.default import PROFILE
from nsbox.specgen.privileges import DEFAULT_CAPS

X86 = dict(machine="x86_64", kernel=(6, 18))


def names(oci: dict, action: str = "SCMP_ACT_ALLOW") -> set[str]:
    return {n for r in oci["syscalls"] if r["action"] == action for n in r["names"]}


def test_default_profile_for_docker_caps():
    oci = profile.to_oci(PROFILE, DEFAULT_CAPS, "default", **X86)
    assert oci["defaultAction"] == "SCMP_ACT_ERRNO" and oci["defaultErrnoRet"] == 1
    assert oci["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = names(oci)
    for blocked in ("keyctl", "add_key", "request_key", "bpf", "perf_event_open", "kexec_load",
                    "open_by_handle_at", "mount", "umount2", "unshare", "setns", "init_module",
                    "reboot", "sethostname", "clock_settime", "io_uring_setup", "userfaultfd"):
        assert blocked not in allowed, blocked
    for needed in ("read", "execve", "arch_prctl", "chroot", "ptrace", "capset", "setresuid"):
        assert needed in allowed, needed
    assert "s390_runtime_instr" not in allowed  # other architectures' rules are dropped
    clone = [r for r in oci["syscalls"] if r["names"] == ["clone"]]
    assert clone == [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}]
    clone3 = [r for r in oci["syscalls"] if r["names"] == ["clone3"]]
    assert clone3[0]["action"] == "SCMP_ACT_ERRNO" and clone3[0]["errnoRet"] == errno.ENOSYS


def test_capabilities_open_their_calls():
    oci = profile.to_oci(PROFILE, DEFAULT_CAPS + ("CAP_SYS_ADMIN", "CAP_SYS_TIME", "CAP_BPF"), "d", **X86)
    allowed = names(oci)
    assert {"mount", "unshare", "setns", "clone", "clone3", "bpf", "clock_settime"} <= allowed
    # with CAP_SYS_ADMIN clone is unconditional and clone3 no longer ENOSYS
    assert not [r for r in oci["syscalls"] if r["names"] == ["clone3"] and r["action"] != "SCMP_ACT_ALLOW"]


def test_min_kernel_and_arches():
    prof = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.19"}},
        {"names": ["b"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
        {"names": ["c"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.0"}},
        {"names": ["d"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
        {"name": "e", "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
    ]}
    assert names(profile.to_oci(prof, (), "p", **X86)) == {"b", "e"}
    assert names(profile.to_oci(prof, (), "p", machine="aarch64", kernel=(4, 4))) == {"c", "d"}
    assert profile.kernel_version("6.18.0-1-amd64") == (6, 18)
    assert profile.kernel_version("3.12-rc5") == (3, 12)


def test_oci_form_passes_through():
    oci = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
           "flags": ["SECCOMP_FILTER_FLAG_LOG"],
           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                         "args": [{"index": 1, "value": 0o700, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}]}
    assert profile.to_oci(oci, (), "p", **X86) == oci
    assert profile.validate_oci(oci) == oci
    assert profile.to_oci({}, (), "p") is None  # no default action, no rules: unconfined


@pytest.mark.parametrize("bad, msg", [
    ({"defaultAction": "SCMP_ACT_NOPE"}, "p.defaultAction: unknown action `SCMP_ACT_NOPE`"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]},
     "p.syscalls[0].names: at least one"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO",
                                                      "args": [{"index": 7, "op": "SCMP_CMP_EQ"}]}]},
     "p.syscalls[0].args[0].index: a system call has 6 arguments"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO",
                                                      "args": [{"index": 0, "op": "EQ"}]}]},
     "p.syscalls[0].args[0].op: unknown operator `EQ`"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_NOTIFY"}]},
     "not supported"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86"}],
      "architectures": ["SCMP_ARCH_X86"],
      "syscalls": []}, "not both"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW",
                                                      "includes": {"minKernel": "five"}}]},
     "invalid kernel version `five`"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}, "p.defaultErrnoRet: must be an errno"),
])
def test_bad_profiles_name_the_json_path(bad, msg):
    with pytest.raises(ConfigError) as e:
        profile.to_oci(bad, (), "p", **X86)
    assert msg in str(e.value)


def test_load_file_messages(tmp_path):
    f = tmp_path / "p.json"
    f.write_text('{"defaultAction": ')
    with pytest.raises(ConfigError, match=r"seccomp=`.*p.json`: not valid JSON"):
        profile.load_file(str(f), ())
    with pytest.raises(ConfigError, match=r"seccomp=`/nonexistent.json`: No such file"):
        profile.load_file("/nonexistent.json", ())
    f.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": 3}]}')
    with pytest.raises(ConfigError, match=r"p.json`: profile.syscalls\[0\].action: unknown action"):
        profile.load_file(str(f), ())


def test_same_argument_conditions_are_alternatives():
    rule = {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
    assert len(bpf._rules_for(rule)) == 2
    rule["args"][1]["index"] = 1
    assert len(bpf._rules_for(rule)) == 1


def test_compile_and_cache(tmp_path, monkeypatch):
    oci = profile.to_oci(PROFILE, DEFAULT_CAPS, "default")
    prog = bpf.program(oci, str(tmp_path))
    assert len(prog) % 8 == 0 and 100 < len(prog) // 8 < 4096
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].endswith(".bpf")

    def no_compile(_oci):
        raise AssertionError("compiled again despite the cache")

    monkeypatch.setattr(bpf, "compile_bpf", no_compile)
    assert bpf.program(oci, str(tmp_path)) == prog
    other = dict(oci, defaultErrnoRet=38)
    assert bpf.cache_key(other) != bpf.cache_key(oci)


def test_unwritable_cache_is_no_error(tmp_path):
    oci = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}
    (tmp_path / "file").write_text("")
    assert bpf.program(oci, str(tmp_path / "file" / "sub"))


def _in_child(oci: dict, calls) -> list[int]:
    """Load the filter in a forked child (no_new_privs: no privilege needed), report errnos."""
    from nsbox.kernel import prctl
    from nsbox.kernel.libc import libc
    from nsbox.kernel.seccomp import load_filter

    prog = bpf.compile_bpf(oci)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            prctl.set_no_new_privs()
            load_filter(prog)
            out = []
            for nr, args in calls:
                rc = libc.syscall(nr, *args)
                out.append(0 if rc >= 0 else ctypes.get_errno())
            os.write(w, ",".join(map(str, out)).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    return [int(x) for x in data.split(",")]


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers below are x86_64's")
def test_default_filter_blocks_with_eperm():
    oci = profile.to_oci(PROFILE, DEFAULT_CAPS, "default")
    keyctl, add_key, unshare, getpid, clone3, personality = 250, 248, 272, 39, 435, 135
    got = _in_child(oci, [(keyctl, (0, -3, 0)), (add_key, (b"user", b"k", b"x", 1, -3)),
                          (unshare, (0x10000000,)), (getpid, ()), (clone3, (None, 0)),
                          (personality, (0x0040000,))])
    assert got == [errno.EPERM, errno.EPERM, errno.EPERM, 0, errno.ENOSYS, errno.EPERM]
