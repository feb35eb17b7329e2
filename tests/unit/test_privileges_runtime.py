"""runtime/privileges.py: what the parent prepares for init (no privileges needed)."""

from __future__ import annotations

import pytest

from nsbox.errors import ConfigError
from nsbox.kernel import landlock
from nsbox.kernel.errors import KernelError
from nsbox.runtime import privileges as P
from nsbox.spec import model as m


class FakeLaunch:
    def __init__(self, caps=None, seccomp=None, annotations=None):
        self.process = m.Process(capabilities=caps)
        self.linux = m.Linux(seccomp=seccomp)
        self.spec = m.Spec(process=self.process, linux=self.linux, annotations=annotations or {})


def test_masks_from_the_spec(tmp_path):
    caps = m.Capabilities(bounding=("CAP_CHOWN", "CAP_NET_RAW"), effective=("CAP_CHOWN",),
                          permitted=("CAP_CHOWN",), ambient=(), inheritable=())
    p = P.prepare(FakeLaunch(caps), str(tmp_path))
    assert p.caps == {"bounding": 1 | 1 << 13, "effective": 1, "permitted": 1, "inheritable": 0, "ambient": 0}
    assert p.seccomp is None and p.landlock == []


def test_unknown_capability_in_a_config():
    caps = m.Capabilities(bounding=("CAP_FLY",))
    with pytest.raises(ConfigError, match="process.capabilities.bounding: unknown capability `CAP_FLY`"):
        P.prepare(FakeLaunch(caps), None)
    with pytest.raises(ConfigError, match="not supported by the running kernel"):
        P.cap_masks(m.Capabilities(effective=("CAP_BPF",)), 37)


def test_seccomp_is_compiled_in_the_parent(tmp_path):
    oci = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}],
           "flags": ["SECCOMP_FILTER_FLAG_LOG"]}
    p = P.prepare(FakeLaunch(seccomp=oci), str(tmp_path / "cache"))
    assert p.seccomp and len(p.seccomp) % 8 == 0
    assert p.seccomp_flags == 2
    assert len(list((tmp_path / "cache").iterdir())) == 1
    with pytest.raises(ConfigError, match="linux.seccomp.syscalls\\[0\\].names"):
        P.prepare(FakeLaunch(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "X"}]}), None)


def test_landlock_rules(monkeypatch):
    monkeypatch.setattr(landlock, "abi_version", lambda: 7)
    p = P.prepare(FakeLaunch(annotations={"run.nsbox.landlock.ro": "/usr:/etc",
                                          "run.nsbox.landlock.rw": "/tmp"}), None)
    rules = dict(p.landlock)
    assert rules["/usr"] == landlock.READ and rules["/tmp"] == landlock.FS_ALL == p.landlock_handled
    assert rules["/dev/null"] == landlock.READ_FILE | landlock.WRITE_FILE
    monkeypatch.setattr(landlock, "abi_version", lambda: 1)
    p = P.prepare(FakeLaunch(annotations={"run.nsbox.landlock.rw": "/tmp"}), None)
    assert p.landlock_handled == (1 << 13) - 1  # ABI 1 knows no REFER/TRUNCATE/IOCTL_DEV


def test_no_landlock_in_the_kernel(monkeypatch):
    def missing():
        raise KernelError(38, "landlock_create_ruleset LANDLOCK_CREATE_RULESET_VERSION")

    monkeypatch.setattr(landlock, "abi_version", missing)
    with pytest.raises(ConfigError) as e:
        P.prepare(FakeLaunch(annotations={"run.nsbox.landlock.ro": "/usr"}), None)
    assert "this kernel has no Landlock" in str(e.value) and "Function not implemented" in str(e.value)
    assert "CONFIG_SECURITY_LANDLOCK" in str(e.value)


def test_landlock_abi_here():
    try:
        abi = landlock.abi_version()
    except KernelError:
        pytest.skip("this kernel has no Landlock")
    assert abi >= 1 and landlock.handled_fs(abi) & landlock.READ == landlock.READ
