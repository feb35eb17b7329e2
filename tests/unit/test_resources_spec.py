"""Docker's resource flags -> linux.resources (OCI) and linux.cgroupsPath."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nsbox.errors import ConfigError
from nsbox.spec.model import ANN_STRICT_LIMITS, IDMapping
from nsbox.specgen import resources as R
from nsbox.specgen.builder import Host, RootfsInput, build
from nsbox.specgen.options import RunOptions

MiB = 1 << 20
ONE = (IDMapping(container_id=0, host_id=1000, size=1),)


@pytest.mark.parametrize("text,n", [("256m", 256 * MiB), ("1g", 1 << 30), ("1.5g", 3 << 29), ("512k", 512 << 10),
                                    ("100", 100), ("64MiB", 64 * MiB), ("64MB", 64 * MiB), ("2 M", 2 * MiB),
                                    ("1024b", 1024), (42, 42)])
def test_parse_bytes(text, n):
    assert R.parse_bytes(text, "--memory") == n


@pytest.mark.parametrize("text", ["abc", "", "1x", "m", "1.2.3g", "-5m"])
def test_parse_bytes_errors(text):
    with pytest.raises(ConfigError, match="--memory"):
        R.parse_bytes(text, "--memory")


def res(**kw):
    return R.from_options(RunOptions(command=("true",), **kw))


def test_no_flag_no_resources():
    assert res() is None


def test_memory_defaults_swap_to_twice_memory():
    assert res(memory="256m") == {"memory": {"limit": 256 * MiB, "swap": 512 * MiB}}


def test_memory_swap_total_and_unlimited():
    assert res(memory="256m", memory_swap="1g")["memory"]["swap"] == 1 << 30
    assert res(memory="256m", memory_swap="-1")["memory"]["swap"] == -1


@pytest.mark.parametrize("kw,msg", [
    ({"memory": "4m"}, "minimum"),
    ({"memory_swap": "1g"}, "needs --memory"),
    ({"memory": "256m", "memory_swap": "128m"}, "at least --memory"),
    ({"memory": "64m", "memory_reservation": "128m"}, "below --memory"),
    ({"cpus": "0.001"}, "range of CPUs"),
    ({"cpus": "1000"}, "range of CPUs"),
    ({"cpus": "x"}, "--cpus"),
    ({"cpus": "1", "cpu_quota": "50000"}, "conflicts"),
    ({"cpu_shares": "512", "cpu_weight": "50"}, "give one"),
    ({"cpu_weight": "0"}, "--cpu-weight"),
    ({"cpu_weight": "10001"}, "--cpu-weight"),
    ({"cpuset_cpus": "0-"}, "--cpuset-cpus"),
    ({"cpuset_cpus": "3-1"}, "--cpuset-cpus"),
    ({"pids_limit": "many"}, "--pids-limit"),
    ({"blkio_weight": "5"}, "10 to 1000"),
    ({"io_weight": "0"}, "--io-weight"),
    ({"blkio_weight": "100", "io_weight": "100"}, "give one"),
    ({"device_read_bps": ("/nonexistent:1mb",)}, "/nonexistent"),
    ({"device_read_bps": ("/dev/null:1mb",)}, "not a block device"),
    ({"device_write_iops": ("sda",)}, "DEVICE:RATE"),
    ({"cgroup_conf": ("memory.high",)}, "FILE=VALUE"),
])
def test_bad_flags_name_the_flag(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        res(**kw)


def test_cpus_to_quota_and_period():
    assert res(cpus="1.5")["cpu"] == {"period": 100000, "quota": 150000}
    assert res(cpus="0.5", cpu_shares="512")["cpu"] == {"period": 100000, "quota": 50000, "shares": 512}


def test_cpu_weight_stored_as_shares():
    shares = res(cpu_weight="100")["cpu"]["shares"]
    assert R.shares_to_weight(shares) == 100


def test_pids_limit_docker_semantics():
    assert res(pids_limit="100")["pids"] == {"limit": 100}
    assert res(pids_limit="0")["pids"] == {"limit": -1}
    assert res(pids_limit="-1")["pids"] == {"limit": -1}


def test_block_io_by_major_minor():
    b = res(blkio_weight="300", device_read_bps=("8:0:1mb",), device_write_iops=("8:16:300",))["blockIO"]
    assert b == {"weight": 300, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": MiB}],
                 "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]}


def test_block_device_path_resolved(tmp_path):
    # a real block device of this machine, if it has one
    devs = [f"/dev/{n}" for n in os.listdir("/sys/block")] if os.path.isdir("/sys/block") else []
    dev = next((d for d in devs if os.path.exists(d)), None)
    if dev is None:
        pytest.skip("no block device node on this machine")
    st = os.stat(dev)
    b = res(device_write_bps=(f"{dev}:10mb",))["blockIO"]
    assert b["throttleWriteBpsDevice"] == [{"major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                                            "rate": 10 * MiB}]


def test_io_weight_and_cgroup_conf_are_unified():
    assert res(io_weight="500", cgroup_conf=("memory.high=1g",))["unified"] == {
        "memory.high": "1g", "io.weight": "default 500"}


def test_cgroup_parent():
    assert R.cgroup_parent(None, "/nsbox") == "/nsbox"
    assert R.cgroup_parent("mygroup", "/nsbox") == "/mygroup"
    assert R.cgroup_parent("/a/b/", "/nsbox") == "/a/b"
    for bad in ("/a/../b", "/process_api/x", "process_api", "/"):
        with pytest.raises(ConfigError):
            R.cgroup_parent(bad, "/nsbox")


def spec_for(host=None, **kw):
    return build(RunOptions(command=("true",), **kw), cid="c" * 64, rootfs=RootfsInput("/"),
                 host=host or Host(euid=0, egid=0))


def test_builder_fills_resources_and_path():
    s = spec_for(memory="64m", pids_limit="10", cgroup_parent="/mine")
    limits = {k: v for k, v in s.linux.resources.items() if k != "devices"}  # devices: the device policy's
    assert limits == {"memory": {"limit": 64 * MiB, "swap": 128 * MiB}, "pids": {"limit": 10}}
    assert s.linux.cgroups_path == "/mine/" + "c" * 64
    assert "resources" in s.linux.to_json()
    assert s.to_json()["linux"]["resources"]["pids"] == {"limit": 10}


def test_builder_without_limits_unchanged():
    s = spec_for()
    assert set(s.linux.resources or {}) <= {"devices"}
    assert s.linux.cgroups_path == "/nsbox/" + "c" * 64
    assert ANN_STRICT_LIMITS not in s.annotations


def test_builder_strict_annotation():
    assert spec_for(memory="64m", strict_limits=True).annotations[ANN_STRICT_LIMITS] == "true"


def test_rootless_without_delegation_has_no_cgroup(monkeypatch):
    from nsbox.cgroups import delegate

    monkeypatch.setattr(delegate, "find_delegated", lambda uid, *a, **k: (None, "no delegation here"))
    host = Host(euid=1000, egid=1000)
    monkeypatch.setattr(Host, "user_name", lambda self: "someone")
    import nsbox.specgen.builder as B

    monkeypatch.setattr(B, "id_maps", lambda o, h: (ONE, ONE))
    s = spec_for(host=host, memory="64m")
    assert s.linux.cgroups_path is None and s.linux.resources["memory"]["limit"] == 64 * MiB
    with pytest.raises(ConfigError, match="no delegation here"):
        spec_for(host=host, cgroup_parent="/x")


def test_rootless_with_delegation_goes_under_it(monkeypatch):
    from nsbox.cgroups import delegate

    monkeypatch.setattr(delegate, "find_delegated",
                        lambda uid, *a, **k: ("/user.slice/user-1000.slice/user@1000.service", ""))
    import nsbox.specgen.builder as B

    monkeypatch.setattr(B, "id_maps", lambda o, h: (ONE, ONE))
    host = Host(euid=1000, egid=1000)
    s = spec_for(host=host, memory="64m")
    assert s.linux.cgroups_path == "/user.slice/user-1000.slice/user@1000.service/nsbox/" + "c" * 64
    s = spec_for(host=host, memory="64m", cgroup_parent="mine")
    assert s.linux.cgroups_path == "/user.slice/user-1000.slice/user@1000.service/mine/" + "c" * 64


def test_no_limit_imports_nothing_of_ours():
    """A container without limits must not pay for this feature at start-up."""
    code = ("import sys; from nsbox.specgen.builder import build, Host, RootfsInput; "
            "from nsbox.specgen.options import RunOptions; "
            "build(RunOptions(command=('true',)), cid='c'*64, rootfs=RootfsInput('/'), host=Host(euid=0, egid=0)); "
            "bad = [m for m in ('nsbox.specgen.resources', 'nsbox.cgroups.apply', 'nsbox.cgroups.v1', "
            "'nsbox.cgroups.v2', 'nsbox.cgroups.delegate') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
