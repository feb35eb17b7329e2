"""The cgroup v1 driver on a fake cgroupfs tree: what it writes, in which order, what it skips."""

from __future__ import annotations

import pytest

from nsbox.cgroups import v1
from nsbox.errors import ConfigError

from .cgroupfs_fixture import V1_FILES, read, set_fixture


@pytest.fixture
def cg(tmp_path):
    """One directory holding every v1 controller's files (the driver's single-dir form)."""
    for files in V1_FILES.values():
        for name, content in files.items():
            set_fixture(tmp_path, name, content)
    return tmp_path


def test_pids_limit(cg):
    assert v1.apply(str(cg), {"pids": {"limit": 100}}) == []
    assert read(cg, "pids.max") == "100"


@pytest.mark.parametrize("limit,expected", [(-1, "max"), (0, "0"), (32771, "32771")])
def test_pids_limit_values(cg, limit, expected):
    v1.apply(str(cg), {"pids": {"limit": limit}})
    assert read(cg, "pids.max") == expected


def test_memory_limit_swap_reservation(cg):
    v1.apply(str(cg), {"memory": {"limit": 268435456, "swap": 536870912, "reservation": 134217728}})
    assert read(cg, "memory.limit_in_bytes") == "268435456"
    assert read(cg, "memory.memsw.limit_in_bytes") == "536870912"
    assert read(cg, "memory.soft_limit_in_bytes") == "134217728"


def test_memory_write_order_keeps_memsw_above_memory(cg, monkeypatch):
    """Raising both: memsw first; lowering both: memory first (runc setMemoryAndSwap)."""
    order = []
    real = v1.Target.write

    def spy(self, controller, file, value, limit):
        order.append(file)
        return real(self, controller, file, value, limit)

    monkeypatch.setattr(v1.Target, "write", spy)
    set_fixture(cg, "memory.limit_in_bytes", "1048576")
    v1.apply(str(cg), {"memory": {"limit": 268435456, "swap": 536870912}})
    assert order == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    order.clear()
    v1.apply(str(cg), {"memory": {"limit": 8388608, "swap": 16777216}})
    assert order == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]


def test_memory_unlimited_means_swap_unlimited(cg):
    v1.apply(str(cg), {"memory": {"limit": -1}})
    assert read(cg, "memory.limit_in_bytes") == "-1"
    assert read(cg, "memory.memsw.limit_in_bytes") == "-1"


def test_swappiness_and_oom_killer(cg):
    v1.apply(str(cg), {"memory": {"swappiness": 0, "disableOOMKiller": True}})
    assert read(cg, "memory.swappiness") == "0"
    assert read(cg, "memory.oom_control") == "1"


def test_missing_swap_accounting_is_skipped_not_dropped(cg):
    (cg / "memory.memsw.limit_in_bytes").unlink()
    skipped = v1.apply(str(cg), {"memory": {"limit": 268435456, "swap": 536870912}})
    assert read(cg, "memory.limit_in_bytes") == "268435456"
    assert [s.limit for s in skipped] == ["memory.swap"]
    assert "memory.memsw.limit_in_bytes" in skipped[0].reason


def test_cpu_quota_period_shares(cg):
    v1.apply(str(cg), {"cpu": {"shares": 512, "quota": 150000, "period": 100000, "burst": 1000}})
    assert read(cg, "cpu.shares") == "512"
    assert read(cg, "cpu.cfs_period_us") == "100000"
    assert read(cg, "cpu.cfs_quota_us") == "150000"
    assert read(cg, "cpu.cfs_burst_us") == "1000"


def test_cpu_negative_quota_is_unlimited(cg):
    v1.apply(str(cg), {"cpu": {"quota": -1}})
    assert read(cg, "cpu.cfs_quota_us") == "-1"


def test_cpuset(cg):
    v1.apply(str(cg), {"cpu": {"cpus": "0-1", "mems": "0"}})
    assert read(cg, "cpuset.cpus") == "0-1"
    assert read(cg, "cpuset.mems") == "0"


def test_blkio_throttle_and_weight(cg):
    set_fixture(cg, "blkio.weight", "500")
    v1.apply(str(cg), {"blockIO": {"weight": 300,
                                   "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                                   "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]}})
    assert read(cg, "blkio.weight") == "300"
    assert read(cg, "blkio.throttle.read_bps_device") == "8:0 1048576"
    assert read(cg, "blkio.throttle.write_iops_device") == "8:16 300"


def test_blkio_weight_bfq_name(cg):
    set_fixture(cg, "blkio.bfq.weight", "100")
    v1.apply(str(cg), {"blockIO": {"weight": 700}})
    assert read(cg, "blkio.bfq.weight") == "700"


def test_blkio_weight_without_a_weight_file_is_skipped(cg):
    skipped = v1.apply(str(cg), {"blockIO": {"weight": 700}})
    assert [s.limit for s in skipped] == ["blockIO.weight"]
    assert "blkio.weight" in skipped[0].reason


def test_hugetlb(cg):
    set_fixture(cg, "hugetlb.2MB.limit_in_bytes", "0")
    v1.apply(str(cg), {"hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}]})
    assert read(cg, "hugetlb.2MB.limit_in_bytes") == "209715200"


def test_controller_dirs_mapping(tmp_path):
    """Real v1: each controller has its own directory."""
    dirs = {}
    for c, files in V1_FILES.items():
        for name, content in files.items():
            set_fixture(tmp_path / c, name, content)
        dirs[c] = str(tmp_path / c)
    v1.apply(dirs, {"pids": {"limit": 7}, "memory": {"limit": 8388608}})
    assert read(tmp_path / "pids", "pids.max") == "7"
    assert read(tmp_path / "memory", "memory.limit_in_bytes") == "8388608"


def test_missing_controller_is_skipped(tmp_path):
    set_fixture(tmp_path / "pids", "pids.max", "max")
    skipped = v1.apply({"pids": str(tmp_path / "pids")}, {"pids": {"limit": 5}, "memory": {"limit": 8388608}})
    assert read(tmp_path / "pids", "pids.max") == "5"
    assert [s.limit for s in skipped] == ["memory.limit"]
    assert "memory" in skipped[0].reason


def test_unified_weights_are_translated(cg):
    set_fixture(cg, "blkio.weight", "500")
    v1.apply(str(cg), {"unified": {"io.weight": "default 10000", "cpu.weight": "100"}})
    assert read(cg, "blkio.weight") == "1000"
    from nsbox.specgen.resources import shares_to_weight

    assert shares_to_weight(int(read(cg, "cpu.shares"))) == 100


def test_unified_other_keys_are_an_error(cg):
    with pytest.raises(ConfigError, match="memory.high"):
        v1.apply(str(cg), {"unified": {"memory.high": "1g"}})


def test_bad_value_is_an_error_naming_file_and_value(cg, monkeypatch):
    import errno
    import os

    real_write = os.write

    def einval(fd, data):
        if data == b"123":
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", einval)
    from nsbox.kernel.errors import KernelError

    with pytest.raises(KernelError) as e:
        v1.apply(str(cg), {"pids": {"limit": 123}})
    assert "write `123` to" in str(e.value) and "pids.max" in str(e.value)


def test_cpuset_parent_made_by_a_concurrent_start_is_initialised(tmp_path):
    """Two starts race to create /nsbox: the loser finds it with empty cpus/mems
    (the winner has not copied them yet); a child of it would refuse tasks (ENOSPC)."""
    from nsbox.cgroups.manager import Cgroup

    from .cgroupfs_fixture import set_fixture, v1_tree

    layout, dirs = v1_tree(tmp_path, "/nsbox/c1", controllers=("cpuset",))
    root = tmp_path / "cpuset"
    set_fixture(root, "cpuset.cpus", "0-1\n")
    set_fixture(root, "cpuset.mems", "0\n")
    for f in ("cpuset.cpus", "cpuset.mems"):
        set_fixture(root / "nsbox", f, "")   # the racer's fresh parent
        set_fixture(root / "nsbox" / "c2", f, "")  # what the kernel makes with mkdir
    Cgroup("/nsbox/c2", layout).create()
    assert (root / "nsbox" / "cpuset.cpus").read_text() == "0-1"
    assert (root / "nsbox" / "c2" / "cpuset.cpus").read_text() == "0-1"
    assert (root / "nsbox" / "c2" / "cpuset.mems").read_text() == "0"
