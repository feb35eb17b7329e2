"""nsbox stats: reading a fake cgroup tree (v1 and v2) and Docker's formatting."""

from __future__ import annotations

import json

import pytest

from nsbox.cgroups import stats as S
from nsbox.cli import stats as C

from .cgroupfs_fixture import set_fixture, v1_tree, v2_tree


def fake_proc(tmp_path, pid=42, mem_kb=2048 * 1024):
    proc = tmp_path / "proc"
    set_fixture(proc, "meminfo", f"MemTotal:       {mem_kb} kB\nMemFree: 1 kB\n")
    set_fixture(proc / str(pid) / "net", "dev",
                "Inter-|   Receive                                                |  Transmit\n"
                " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
                "    lo:    900      9    0    0    0     0          0         0      900      9 0 0 0 0 0 0\n"
                "  eth0:   1500     10    0    0    0     0          0         0      2500     20 0 0 0 0 0 0\n")
    return str(proc)


def test_v1_sample(tmp_path):
    layout, dirs = v1_tree(tmp_path)
    set_fixture(dirs["cpuacct"], "cpuacct.usage", "5000000000\n")
    set_fixture(dirs["memory"], "memory.usage_in_bytes", str(300 << 20))
    set_fixture(dirs["memory"], "memory.stat", f"cache 0\ntotal_inactive_file {100 << 20}\n")
    set_fixture(dirs["memory"], "memory.limit_in_bytes", str(512 << 20))
    set_fixture(dirs["pids"], "pids.current", "7\n")
    set_fixture(dirs["blkio"], "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 1\nTotal 12289\n")
    s = S.sample(layout, "/nsbox/c1", 42, fake_proc(tmp_path))
    assert s.cpu_ns == 5_000_000_000
    assert s.mem_usage == 200 << 20 and s.mem_limit == 512 << 20
    assert s.pids == 7
    assert (s.blk_read, s.blk_write) == (4097, 8192)
    assert (s.net_rx, s.net_tx) == (1500, 2500)  # loopback excluded


def test_v2_sample_and_unlimited_memory_shows_host_memory(tmp_path):
    layout, d = v2_tree(tmp_path)
    set_fixture(d, "cpu.stat", "usage_usec 2500000\nuser_usec 1\n")
    set_fixture(d, "memory.current", str(64 << 20))
    set_fixture(d, "memory.stat", f"anon 1\ninactive_file {4 << 20}\n")
    set_fixture(d, "memory.max", "max\n")
    set_fixture(d, "io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n253:0 rbytes=1 wbytes=2\n")
    s = S.sample(layout, "/nsbox/c1", 42, fake_proc(tmp_path))
    assert s.cpu_ns == 2_500_000_000
    assert s.mem_usage == 60 << 20 and s.mem_limit == 2048 << 20
    assert (s.blk_read, s.blk_write) == (101, 202)


def test_no_cgroup_gives_unknowns(tmp_path):
    layout, _ = v2_tree(tmp_path)
    s = S.sample(layout, None, 42, fake_proc(tmp_path))
    assert s.mem_usage is None and s.pids is None and s.net_rx == 1500


def test_cpu_percent():
    a, b = S.Sample(), S.Sample()
    a.cpu_ns, b.cpu_ns = 0, 1_500_000_000
    b.time = a.time + 1.0
    assert S.cpu_percent(a, b) == pytest.approx(150.0)
    assert S.cpu_percent(None, b) is None


@pytest.mark.parametrize("n,text", [(0, "0B"), (828 * 1024, "828KiB"), (151 << 20, "151MiB"),
                                    (2048000, "1.953MiB"), (512 << 20, "512MiB"), (None, "--")])
def test_binary_units(n, text):
    assert C.binary(n) == text


@pytest.mark.parametrize("n,text", [(0, "0B"), (1200, "1.2kB"), (105_000_000, "105MB"), (None, "--")])
def test_decimal_units(n, text):
    assert C.decimal(n) == text


ROW = {"ID": "1f376e181bf0", "Container": "web", "Name": "web", "CPUPerc": "0.50%",
       "MemUsage": "151MiB / 512MiB", "MemPerc": "29.50%", "NetIO": "0B / 0B", "BlockIO": "0B / 0B",
       "PIDs": "2", "raw": {"memory_usage": 1}}


def test_table_has_docker_columns():
    lines = C.render([ROW], None)
    assert lines[0].split("   ")[:3] == ["CONTAINER ID", "NAME", "CPU %"]
    assert "MEM USAGE / LIMIT" in lines[0] and lines[0].rstrip().endswith("PIDS")
    assert lines[1].startswith("1f376e181bf0   web") and "151MiB / 512MiB" in lines[1]


def test_json_and_templates():
    obj = json.loads(C.render([ROW], "json")[0])
    assert obj["MemUsage"] == "151MiB / 512MiB" and obj["raw"]["memory_usage"] == 1
    assert C.render([ROW], "{{.Name}}: {{ .MemPerc }}") == ["web: 29.50%"]
    assert C.render([ROW], "table {{.Name}}\\t{{.PIDs}}") == ["NAME\tPIDS", "web\t2"]
