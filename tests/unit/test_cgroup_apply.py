"""apply(): driver choice per layout, hybrid routing, warnings and --strict-limits;
rootless delegation; OOM counters; the container's own cgroup for bind mounts."""

from __future__ import annotations

import pytest

from nsbox.cgroups import apply as A
from nsbox.cgroups.delegate import delegation_root, find_delegated, own_cgroup
from nsbox.cgroups.detect import Hierarchy, Layout
from nsbox.cgroups.manager import Cgroup

from .cgroupfs_fixture import read, set_fixture, v1_tree, v2_tree


def test_v2_layout_uses_v2_driver(tmp_path):
    layout, d = v2_tree(tmp_path)
    A.apply(Cgroup("/nsbox/c1", layout), {"memory": {"limit": 8 << 20, "swap": 16 << 20}, "pids": {"limit": 9}})
    assert read(d, "memory.max") == str(8 << 20)
    assert read(d, "memory.swap.max") == str(8 << 20)
    assert read(d, "pids.max") == "9"


def test_v1_layout_writes_each_hierarchy(tmp_path):
    layout, dirs = v1_tree(tmp_path)
    A.apply(Cgroup("/nsbox/c1", layout), {"memory": {"limit": 8 << 20}, "pids": {"limit": 9},
                                          "cpu": {"quota": 50000, "period": 100000, "cpus": "0"}})
    assert read(dirs["memory"], "memory.limit_in_bytes") == str(8 << 20)
    assert read(dirs["pids"], "pids.max") == "9"
    assert read(dirs["cpu"], "cpu.cfs_quota_us") == "50000"
    assert read(dirs["cpuset"], "cpuset.cpus") == "0"


def test_hybrid_routes_v2_only_controllers_to_the_unified_mount(tmp_path):
    """This machine: hugetlb lives in /sys/fs/cgroup/unified."""
    layout, dirs = v1_tree(tmp_path, with_unified=True)
    assert layout.mode == "hybrid"
    A.apply(Cgroup("/nsbox/c1", layout), {"hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}],
                                          "unified": {"hugetlb.2MB.max": str(4 << 20)}, "pids": {"limit": 3}})
    assert read(dirs["unified"], "hugetlb.2MB.max") == str(4 << 20)  # unified last
    assert read(dirs["unified"], "hugetlb.2MB.rsvd.max") == str(2 << 20)
    assert read(dirs["pids"], "pids.max") == "3"


def test_unapplied_limit_warns_with_the_flag_name(tmp_path, capsys):
    from nsbox.errors import LimitWarning

    layout, dirs = v1_tree(tmp_path, controllers=("memory", "pids"))
    with pytest.warns(LimitWarning) as caught:  # nobody collects it: a warning
        skipped = A.apply(Cgroup("/nsbox/c1", layout), {"pids": {"limit": 3}, "blockIO": {"weight": 100}})
    assert [s.limit for s in skipped] == ["blockIO.weight"]
    assert len(caught) == 1 and str(caught[0].message).startswith("--blkio-weight: not applied: ")
    assert capsys.readouterr().err == ""  # a library reports, it does not print
    kept: list[str] = []
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # collected by the caller (the API reports it itself): no warning
        A.apply(Cgroup("/nsbox/c2", layout), {"blockIO": {"weight": 100}}, warnings=kept)
    assert kept == [str(caught[0].message)]


def test_strict_limits_refuses(tmp_path):
    layout, dirs = v1_tree(tmp_path, controllers=("memory", "pids"))
    with pytest.raises(A.LimitsNotApplied, match="--blkio-weight.*--strict-limits"):
        A.apply(Cgroup("/nsbox/c1", layout), {"blockIO": {"weight": 100}}, strict=True)


def test_derived_swap_is_not_reported(tmp_path, capsys):
    """--memory alone sets swap to twice memory (Docker); no swap accounting is no news."""
    layout, dirs = v1_tree(tmp_path, controllers=("memory",))
    (dirs["memory"] / "memory.memsw.limit_in_bytes").unlink()
    A.apply(Cgroup("/nsbox/c1", layout), {"memory": {"limit": 8 << 20, "swap": 16 << 20}}, strict=True)
    assert capsys.readouterr().err == ""
    with pytest.raises(A.LimitsNotApplied, match="--memory-swap"):
        A.apply(Cgroup("/nsbox/c1", layout), {"memory": {"limit": 8 << 20, "swap": 24 << 20}}, strict=True)


def test_unavailable_lists_requested_flags(capsys):
    r = {"memory": {"limit": 8 << 20, "swap": 16 << 20}, "pids": {"limit": 3}, "unified": {"io.weight": "default 5"}}
    from nsbox import defaults

    shown: list[str] = []
    defaults.warning_hook = shown.append  # what the CLI installs to print "nsbox: warning: ..."
    try:
        A.unavailable(r, "cgroup v1 is not delegated", strict=False)
    finally:
        defaults.warning_hook = None
    assert shown == ["--memory, --pids-limit, --io-weight: not applied: cgroup v1 is not delegated"]
    with pytest.raises(A.LimitsNotApplied, match="--memory, --pids-limit"):
        A.unavailable(r, "x", strict=True)


def test_manager_refuses_process_api():
    layout = Layout([])
    for bad in ("/process_api/x", "/a/process_api", "/process_api"):
        with pytest.raises(ValueError, match="process_api"):
            Cgroup(bad, layout)


@pytest.mark.parametrize("version", [1, 2])
def test_oom_kill_counter(tmp_path, version):
    if version == 1:
        layout, dirs = v1_tree(tmp_path, controllers=("memory",))
        f, d = "memory.oom_control", dirs["memory"]
        set_fixture(d, f, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    else:
        layout, d = v2_tree(tmp_path)
        set_fixture(d, "memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    assert Cgroup("/nsbox/c1", layout).oom_kills() == (2 if version == 1 else 1)
    assert Cgroup("/nsbox/other", layout).oom_kills() == 0


# --- rootless delegation -----------------------------------------------------------------------
def fake_proc(tmp_path, cgroup_line: str, v2: bool = True):
    proc = tmp_path / "proc"
    mnt = tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(cgroup_line)
    if v2:
        line = f"30 20 0:26 / {mnt} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    else:
        line = f"30 20 0:26 / {mnt}/memory rw - cgroup cgroup rw,memory\n"
    (proc / "self" / "mountinfo").write_text(line)
    set_fixture(mnt, "cgroup.controllers", "cpu memory pids")
    return str(proc), mnt


USER_SVC = "/user.slice/user-1000.slice/user@1000.service"


def test_delegation_root_is_the_highest_writable_ancestor(tmp_path):
    owned = {USER_SVC, USER_SVC + "/app.slice", USER_SVC + "/app.slice/run-1.scope"}
    mnt = "/fake"

    def writable(p):
        rel = p[len(mnt):]
        base = rel.rsplit("/", 1)[0] if rel.rsplit("/", 1)[-1].startswith("cgroup.") else rel
        return base in owned

    assert delegation_root(mnt, USER_SVC + "/app.slice/run-1.scope", writable) == USER_SVC
    assert delegation_root(mnt, "/user.slice/user-1000.slice/session-1.scope", writable) is None


def test_delegation_never_inside_process_api():
    assert delegation_root("/fake", "/process_api/abc", lambda p: True) is None


def test_find_delegated_v2(tmp_path):
    proc, mnt = fake_proc(tmp_path, f"0::{USER_SVC}/app.slice/run-1.scope\n")
    root, why = find_delegated(1000, proc=proc, writable=lambda p: "user@1000.service" in p)
    assert (root, why) == (USER_SVC, "")
    root, why = find_delegated(1000, proc=proc, writable=lambda p: False)
    assert root is None and "no cgroup v2 subtree is delegated to uid 1000" in why
    assert "Delegate=yes" in why


def test_find_delegated_v1_never(tmp_path):
    proc, _ = fake_proc(tmp_path, "4:memory:/x\n0::/\n", v2=False)
    root, why = find_delegated(1000, proc=proc, writable=lambda p: True)
    assert root is None and "cgroup v1" in why


def test_own_cgroup(tmp_path):
    proc, _ = fake_proc(tmp_path, "1:name=systemd:/a\n0::/b/c\n")
    assert own_cgroup(proc) == "/b/c"


# --- what the host-bind fallback of /sys/fs/cgroup shows -----------------------------------------
def test_own_path_prefers_the_container_cgroup():
    h_mem = Hierarchy("/sys/fs/cgroup/memory", ("memory",), 1)
    h_cpu = Hierarchy("/sys/fs/cgroup/cpu,cpuacct", ("cpu", "cpuacct"), 1)
    h_u = Hierarchy("/sys/fs/cgroup/unified", (), 2)
    layout = Layout([h_mem, h_cpu, h_u], {"memory": "/user/1", "cpuacct,cpu": "/user/2", "": "/u"})
    assert layout.own_path(h_mem) == "/user/1"
    assert layout.own_path(h_cpu) == "/user/2"
    assert layout.own_path(h_u) == "/u"
    layout.container = "/nsbox/abc"
    assert layout.own_path(h_mem) == "/nsbox/abc"


def test_own_path_relative_to_mount_root():
    h = Hierarchy("/sys/fs/cgroup/memory", ("memory",), 1, root="/outer")
    layout = Layout([h], {"memory": "/outer/inner"})
    assert layout.own_path(h) == "/inner"


@pytest.mark.parametrize("res,path", [
    ({"memory": {"limit": "256m"}}, "memory.limit"),
    ({"memory": {"disableOOMKiller": 1}}, "memory.disableOOMKiller"),
    ({"cpu": {"cpus": 3}}, "cpu.cpus"),
    ({"pids": {"limit": True}}, "pids.limit"),
    ({"pids": 5}, "linux.resources.pids: must be an object"),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "rate": 1}]}}, "throttleReadBpsDevice[0]"),
    ({"hugepageLimits": [{"pageSize": "../x", "limit": 1}]}, "hugepageLimits[0]"),
    ({"unified": {"pids.max": 5}}, "unified"),
])
def test_mistyped_config_is_one_error_with_its_json_path(tmp_path, res, path):
    from nsbox.errors import ConfigError

    layout, dirs = v1_tree(tmp_path, controllers=("pids",))
    with pytest.raises(ConfigError, match=path.replace("[", r"\[").replace("]", r"\]")):
        A.apply(Cgroup("/nsbox/c1", layout), res)
    assert read(dirs["pids"], "pids.max") == "max\n"  # nothing half-applied
