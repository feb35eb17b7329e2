"""nsbox.pool without privileges: keywords -> RunOptions, per-run limits, the
wire's errors, the environment merge, and the collection of dead pools."""

from __future__ import annotations

import fcntl
import json
import os

import pytest

from nsbox.errors import ConfigError, ExecError
from nsbox.kernel.errors import KernelError
from nsbox.pool import options as O
from nsbox.pool import wire
from nsbox.pool.gc import collect_pools
from nsbox.pool.loop import merge_env
from nsbox.runtime.state import Store


def test_template_is_nsbox_runs_keywords():
    o = O.template_options({"volumes": ["/a:/b"], "env": {"A": "1"}, "memory": 64 << 20, "read_only": True,
                            "ulimits": {"nofile": (10, 20)}, "cwd": "/w", "cap_add": "NET_RAW",
                            "tmpfs": {"/tmp": "size=8m"}})
    assert o.volume == ("/a:/b",) and o.env == ("A=1",) and o.memory == str(64 << 20)
    assert o.read_only is True and o.workdir == "/w" and o.ulimit == ("nofile=10:20",)
    assert o.cap_add == ("NET_RAW",) and o.tmpfs == ("/tmp:size=8m",)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        O.template_options({"colour": "red"})


@pytest.mark.parametrize("kw", [{"network": "bridge"}, {"detach": True}, {"name": "x"}, {"pid": "host"},
                                {"publish": ["80:80"]}, {"uidmap": ["0:1:1"]}])
def test_template_refuses_what_a_pool_decides(kw):
    key, value = next(iter(kw.items()))
    with pytest.raises(ConfigError) as e:
        O.template_options(kw)
    assert str(e.value).startswith(f"{key} `"), str(e.value)


def test_template_is_loopback_only_without_time_namespace():
    o = O.template_options({"memory": "64m"})
    assert o.network == "none" and o.share == ("time",)


def test_read_only_template_gets_a_fresh_tmp():
    assert O.template_options({"read_only": True}).tmpfs == ("/tmp",)
    assert O.template_options({"read_only": True, "tmpfs": ["/tmp:size=1m"]}).tmpfs == ("/tmp:size=1m",)


def test_template_limits_checked_and_named_by_keyword():
    with pytest.raises(ConfigError, match=r"^memory `lots`: "):
        O.template_options({"memory": "lots"})


def test_runs_may_narrow_limits_only():
    cap = O.limits_of({"memory": {"limit": 64 << 20}, "pids": {"limit": 100},
                       "cpu": {"quota": 100000, "period": 100000}})
    assert cap == {"memory": 64 << 20, "pids_limit": 100, "cpus": 1.0}
    assert O.run_limits(cap) is None
    res = O.run_limits(cap, memory="32m", pids_limit=10, cpus=0.5)
    assert res["memory"]["limit"] == 32 << 20 and res["pids"]["limit"] == 10
    assert res["cpu"]["quota"] / res["cpu"]["period"] == 0.5
    for kw in ({"memory": "1g"}, {"pids_limit": 200}, {"cpus": 2}):
        with pytest.raises(ConfigError, match="narrow"):
            O.run_limits(cap, **kw)
    with pytest.raises(ConfigError, match="not lift"):
        O.run_limits(cap, pids_limit=0)  # 0 is Docker's "unlimited"


def test_unlimited_template_takes_any_run_limit():
    cap = O.limits_of(None)
    assert O.run_limits(cap, memory="1g")["memory"]["limit"] == 1 << 30


@pytest.mark.parametrize("call, word", [
    (lambda: O.check_argv("ls"), "pool.run: argv `'ls'`"), (lambda: O.check_argv([]), "pool.run: argv `[]`"),
    (lambda: O.check_env({"A=B": "1"}), "env `"), (lambda: O.check_env([("A", "1")]), "env `"),
    (lambda: O.check_cwd("tmp"), "cwd `'tmp'`"),
])
def test_run_values_checked(call, word):
    with pytest.raises(ConfigError) as e:
        call()
    assert str(e.value).startswith(word)


def test_env_merge_overrides_the_template():
    assert merge_env(("PATH=/bin", "A=1"), {"A": "2", "B": "3"}) == ["PATH=/bin", "A=2", "B=3"]
    assert merge_env(("A=1",), {}) == ["A=1"]


@pytest.mark.parametrize("err, kind", [
    (ExecError("exec `x`: not found", 127), ExecError), (ConfigError("memory='x': bad"), ConfigError),
    (KernelError(1, "mount `proc` to `/proc`"), KernelError),
])
def test_errors_keep_their_class_across_the_wire(err, kind):
    msg = wire.error_message(err)
    with pytest.raises(kind) as e:
        wire.raise_error(msg)
    assert str(e.value) == str(err)
    if kind is ExecError:
        assert e.value.exit_code == 127


def test_sandbox_errors_in_the_wires_form():
    assert wire.from_sandbox({"type": "error", "errno": 0, "msg": "exec `x`: nope", "exit": 126})["kind"] == "exec"
    assert wire.from_sandbox({"type": "error", "errno": 2, "msg": "mount"})["kind"] == "kernel"


def _pool_dir(root, name: str, pid: int, resources=()) -> str:
    d = f"{root}/pools/{name}"
    os.makedirs(d)
    with open(f"{d}/state.json", "w") as f:
        json.dump({"id": name, "pid": pid, "pidStart": 1, "status": "running", "resources": list(resources)}, f)
    open(f"{d}/owner.lock", "w").close()
    return d


def test_dead_pools_are_collected_live_ones_kept(tmp_path):
    store = Store(str(tmp_path))
    _pool_dir(tmp_path, "pool-dead", 0, [{"kind": "no-such-kind"}])
    live = _pool_dir(tmp_path, "pool-live", os.getpid())
    fd = os.open(f"{live}/owner.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what a running server holds
    try:
        _pool_dir(tmp_path, ".new-pool-young", 0)  # being made: its lock comes before its name
        assert collect_pools(store) == ["pools/pool-dead"]
        assert sorted(os.listdir(f"{tmp_path}/pools")) == [".new-pool-young", "pool-live"]
    finally:
        os.close(fd)
    assert collect_pools(store) == ["pools/pool-live"]
