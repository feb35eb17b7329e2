"""SIGKILL of ``nsbox run`` (and run -d, exec, rm) at random moments, for each kind of root
filesystem and user namespace: nothing is left once the next command has run
(state directories and names, cgroups, mounts, /run/netns, processes).

killharness.py does the work; run it by hand for a longer hunt."""

from __future__ import annotations

import random
import subprocess

import pytest

from .killharness import VARIANTS, hunt

RUNS = 6


@pytest.fixture(scope="module")
def tarball(busybox_rootfs, tmp_path_factory):
    import os
    import tempfile

    d = tempfile.mkdtemp(prefix="nsbox-rtk-tar-")
    os.chmod(d, 0o755)
    out = f"{d}/rootfs.tar.gz"
    subprocess.run(["tar", "-C", busybox_rootfs, "-czf", out, "."], check=True)
    os.chmod(out, 0o644)
    yield out
    subprocess.run(["rm", "-rf", d])


@pytest.mark.parametrize("variant", ["default", "dir", "tar", "userns", "init", "limits", "net"])
def test_sigkill_during_start_up_leaves_nothing(runner, variant, busybox_rootfs, tarball):
    from ..conftest import CGROUP_PARENT

    if variant == "net":  # a bridge with a published port as root (veth, nft, lease); pasta rootless
        variant = "pasta" if runner.rootless else "publish"
    args = tuple(a.format(busybox=busybox_rootfs, tarball=tarball, port=random.randrange(20000, 30000))
                 for a in VARIANTS[variant])
    seed = random.randrange(1 << 30)
    problems = hunt(runner.argv, runner.env(), runner.root, CGROUP_PARENT, args, RUNS, seed=seed)
    assert problems == {}, f"seed {seed}: {problems}"


@pytest.mark.parametrize("kind", ["run-d", "exec", "rm"])
def test_sigkill_of_lifecycle_commands_leaves_nothing_after_rm(runner, kind):
    """``run -d``, ``exec`` or ``rm -f`` killed at any moment: ``rm -f`` then removes
    the container completely, and the next command finds nothing to collect."""
    from ..conftest import CGROUP_PARENT
    from .killharness import hunt_lifecycle

    seed = random.randrange(1 << 30)
    problems = hunt_lifecycle(runner.argv, runner.env(), runner.root, CGROUP_PARENT, kind, 4, seed=seed)
    assert problems == {}, f"seed {seed}: {problems}"
