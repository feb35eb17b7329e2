"""The cgroup v2 driver on a fake unified tree: crun's OCI v1 -> v2 conversions."""

from __future__ import annotations

import pytest

from nsbox.cgroups import v2
from nsbox.errors import ConfigError
from nsbox.specgen.resources import shares_to_weight, weight_to_shares

from .cgroupfs_fixture import V2_FILES, read, set_fixture


@pytest.fixture
def cg(tmp_path):
    for name, content in V2_FILES.items():
        set_fixture(tmp_path, name, content)
    return tmp_path


def test_pids(cg):
    v2.apply(str(cg), {"pids": {"limit": 100}})
    assert read(cg, "pids.max") == "100"
    v2.apply(str(cg), {"pids": {"limit": -1}})
    assert read(cg, "pids.max") == "max"


@pytest.mark.parametrize("shares,weight", [(2, 1), (1024, 39), (262144, 10000), (512, 20)])
def test_cpu_weight_from_shares(cg, shares, weight):
    """crun.1: weight = 1 + ((shares - 2) * 9999) / 262142."""
    v2.apply(str(cg), {"cpu": {"shares": shares}})
    assert read(cg, "cpu.weight") == str(weight)


def test_cpu_weight_round_trip():
    """--cpu-weight is stored as shares: every weight must come back exactly."""
    assert all(shares_to_weight(weight_to_shares(w)) == w for w in range(1, 10001))


def test_cpu_max(cg):
    v2.apply(str(cg), {"cpu": {"quota": 150000, "period": 100000}})
    assert read(cg, "cpu.max") == "150000 100000"
    v2.apply(str(cg), {"cpu": {"quota": -1, "period": 50000}})
    assert read(cg, "cpu.max") == "max 50000"
    v2.apply(str(cg), {"cpu": {"quota": 20000}})
    assert read(cg, "cpu.max") == "20000"


def test_cpu_burst_idle_cpuset(cg):
    v2.apply(str(cg), {"cpu": {"burst": 1000, "idle": 1, "cpus": "1", "mems": "0"}})
    assert read(cg, "cpu.max.burst") == "1000"
    assert read(cg, "cpu.idle") == "1"
    assert read(cg, "cpuset.cpus") == "1"
    assert read(cg, "cpuset.mems") == "0"


def test_memory_max_swap_low(cg):
    v2.apply(str(cg), {"memory": {"limit": 268435456, "swap": 536870912, "reservation": 134217728}})
    assert read(cg, "memory.max") == "268435456"
    assert read(cg, "memory.swap.max") == str(536870912 - 268435456)  # v1's swap counts memory too
    assert read(cg, "memory.low") == "134217728"


@pytest.mark.parametrize("swap,limit,expected", [
    (None, None, None), (-1, 100, -1), (0, 100, None), (200, 100, 100), (100, 100, 0), (None, -1, -1)])
def test_swap_conversion(swap, limit, expected):
    assert v2.swap_value(swap, limit) == expected


def test_swap_conversion_errors():
    with pytest.raises(ConfigError):
        v2.swap_value(200, None)
    with pytest.raises(ConfigError):
        v2.swap_value(50, 100)


def test_memory_unlimited(cg):
    set_fixture(cg, "memory.max", "1000")
    v2.apply(str(cg), {"memory": {"limit": -1}})
    assert read(cg, "memory.max") == "max"
    assert read(cg, "memory.swap.max") == "max"


def test_v1_only_memory_settings_are_skipped(cg):
    skipped = v2.apply(str(cg), {"memory": {"swappiness": 10, "disableOOMKiller": True, "kernel": 1 << 20}})
    assert sorted(s.limit for s in skipped) == ["memory.disableOOMKiller", "memory.kernel", "memory.swappiness"]


def test_io_weight_converted_without_bfq(cg):
    v2.apply(str(cg), {"blockIO": {"weight": 1000}})
    assert read(cg, "io.weight") == "default 10000"
    v2.apply(str(cg), {"blockIO": {"weight": 10}})
    assert read(cg, "io.weight") == "default 1"


def test_io_bfq_weight_same_scale(cg):
    set_fixture(cg, "io.bfq.weight", "default 100")
    v2.apply(str(cg), {"blockIO": {"weight": 500}})
    assert read(cg, "io.bfq.weight") == "500"


def test_io_max_one_line_per_device(cg, monkeypatch):
    writes = []
    real = v2.Target.write

    def spy(self, controller, file, value, limit):
        writes.append((file, value))
        return real(self, controller, file, value, limit)

    monkeypatch.setattr(v2.Target, "write", spy)
    v2.apply(str(cg), {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
                                   "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 120},
                                                               {"major": 253, "minor": 0, "rate": 5}]}})
    assert writes == [("io.max", "8:0 rbps=2097152 wiops=120"), ("io.max", "253:0 wiops=5")]


def test_hugetlb(cg):
    v2.apply(str(cg), {"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]})
    assert read(cg, "hugetlb.2MB.max") == "4194304"


def test_unified_written_last_and_as_given(cg):
    v2.apply(str(cg), {"pids": {"limit": 10}, "unified": {"pids.max": "20", "memory.high": "1073741824"}})
    assert read(cg, "pids.max") == "20"
    assert read(cg, "memory.high") == "1073741824"


@pytest.mark.parametrize("key", ["../../escape", "cgroup.procs", "cgroup.subtree_control", "", "a/b"])
def test_unified_refuses_non_settable_keys(cg, key):
    with pytest.raises(ConfigError):
        v2.apply(str(cg), {"unified": {key: "1"}})


def test_unified_controller_not_enabled_is_an_error(cg):
    set_fixture(cg, "cgroup.controllers", "memory pids\n")
    set_fixture(cg, "io.max", "")
    with pytest.raises(ConfigError, match="`io` controller"):
        v2.apply(str(cg), {"unified": {"io.max": "8:0 rbps=1"}})


def test_unified_missing_file_is_an_error(cg):
    with pytest.raises(ConfigError, match="no such file"):
        v2.apply(str(cg), {"unified": {"memory.nonexistent": "1"}})


def test_controller_not_enabled_is_skipped_with_a_reason(tmp_path):
    """A rootless delegation without io: the limit is reported, not dropped."""
    set_fixture(tmp_path, "cgroup.controllers", "memory pids\n")
    set_fixture(tmp_path, "pids.max", "max")
    skipped = v2.apply(str(tmp_path), {"pids": {"limit": 5}, "blockIO": {"weight": 100}})
    assert read(tmp_path, "pids.max") == "5"
    assert [s.limit for s in skipped] == ["blockIO.weight"]
    assert "`io` controller is not enabled" in skipped[0].reason


def test_realtime_skipped(cg):
    skipped = v2.apply(str(cg), {"cpu": {"realtimeRuntime": 1000}})
    assert [s.limit for s in skipped] == ["cpu.realtimeRuntime"]
