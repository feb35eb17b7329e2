"""``network rm`` of a network no container ever used, while nsbox's nftables
table exists (another bridge container runs): its elements were never added,
and their absence is no error."""

from __future__ import annotations

import pytest

from .toolkit_helpers import unique


@pytest.mark.root
def test_rm_an_unused_network_while_another_bridge_is_up(root_runner):
    keep, net = unique("keep"), unique("rtknet")
    try:
        root_runner.run("run", "-d", "--name", keep, "--network", "bridge", "--", "sleep", "60", check=True)
        root_runner.run("network", "create", net, check=True)
        r = root_runner.run("network", "rm", net)
        assert r.returncode == 0, r.stderr
        assert net not in root_runner.run("network", "ls", check=True).stdout
    finally:
        root_runner.run("rm", "-f", keep)
        root_runner.run("network", "rm", net)
