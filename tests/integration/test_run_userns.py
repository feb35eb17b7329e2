"""User namespaces: id maps seen from inside and outside, newuidmap, the rules of user_namespaces(7)."""

from __future__ import annotations

import os
import time

import pytest


def _subids(user: str) -> tuple[int, int]:
    for line in open("/etc/subuid"):
        name, start, count = line.strip().split(":")
        if name == user:
            return int(start), int(count)
    raise AssertionError(f"no /etc/subuid entry for {user}")


@pytest.mark.rootless
def test_rootless_default_map(rootless_runner):
    uid = rootless_runner.user.pw_uid
    r = rootless_runner.run("run", "--", "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; "
                            "cat /proc/self/setgroups", check=True)
    lines = [line.split() for line in r.stdout.strip().splitlines()]
    assert lines[0] == ["0", str(uid), "1"]
    assert lines[1] == ["0", str(rootless_runner.user.pw_gid), "1"]
    assert lines[2] == ["0"]
    assert lines[3] == ["deny"]  # user_namespaces(7): needed before an unprivileged gid_map write


@pytest.mark.rootless
def test_multi_range_map_through_newuidmap(rootless_runner, shared_tmp):
    user = rootless_runner.user
    start, _count = _subids(user.pw_name)
    r = rootless_runner.run(
        "run", "--uidmap", f"0:{user.pw_uid}:1", "--uidmap", f"1:{start}:1000",
        "--gidmap", f"0:{user.pw_gid}:1", "--gidmap", f"1:{start}:1000",
        "-v", f"{shared_tmp}:/w", "--", "sh", "-c",
        "cat /proc/self/uid_map; touch /w/by-root /w/by-500; chown 500:500 /w/by-500; echo done", check=True)
    rows = [line.split() for line in r.stdout.strip().splitlines()[:2]]
    assert rows == [["0", str(user.pw_uid), "1"], ["1", str(start), "1000"]]
    assert os.stat(os.path.join(shared_tmp, "by-root")).st_uid == user.pw_uid
    st = os.stat(os.path.join(shared_tmp, "by-500"))
    assert (st.st_uid, st.st_gid) == (start + 499, start + 499)


@pytest.mark.rootless
def test_userns_auto_uses_the_whole_subordinate_range(rootless_runner):
    user = rootless_runner.user
    start, count = _subids(user.pw_name)
    r = rootless_runner.run("run", "--userns", "auto", "--", "cat", "/proc/self/uid_map", check=True)
    rows = [line.split() for line in r.stdout.strip().splitlines()]
    assert rows == [["0", str(user.pw_uid), "1"], ["1", str(start), str(count)]]


@pytest.mark.rootless
def test_maps_seen_from_outside(rootless_runner, shared_tmp):
    user = rootless_runner.user
    p = rootless_runner.popen("run", "-v", f"{shared_tmp}:/w", "--", "sh", "-c",
                              "echo $$ > /w/pid-inside; cat /proc/self/uid_map > /w/map-inside; sleep 30", text=True)
    try:
        end = time.monotonic() + 15
        while not os.path.exists(os.path.join(shared_tmp, "map-inside")):
            assert time.monotonic() < end
            time.sleep(0.02)
        # find the container's init on the host: the process whose uid_map says "0 <uid> 1"
        pids = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/uid_map") as f:
                    m = f.read().split()
                with open(f"/proc/{pid}/status") as f:
                    nspid = [line for line in f if line.startswith("NSpid:")][0].split()
            except OSError:
                continue
            if m == ["0", str(user.pw_uid), "1"] and nspid[-1] == "1":
                pids.append(pid)
        assert pids, "container init not found from the host"
        st = open(f"/proc/{pids[0]}/status").read()
        assert f"Uid:\t{user.pw_uid}\t{user.pw_uid}" in st  # root inside is the caller outside
    finally:
        p.kill()
        p.wait()


@pytest.mark.root
def test_root_with_user_namespace(root_runner, shared_tmp):
    r = root_runner.run("run", "--uidmap", "0:100000:65536", "-v", f"{shared_tmp}:/w", "--", "sh", "-c",
                        "id -u; cat /proc/self/uid_map; touch /w/f 2>&1 || echo denied; ls /etc/hostname", check=True)
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]
    # the directory belongs to host root: the container's root (host uid 100000) may not write it
    assert "denied" in r.stdout or os.stat(os.path.join(shared_tmp, "f")).st_uid == 100000


@pytest.mark.parametrize("args,needle", [
    (["--uidmap", "0:1000:0"], "size must be > 0"),
    (["--uidmap", "0:100000:10", "--uidmap", "5:200000:10"], "overlap on the inside"),
    (["--uidmap", "0:100000:10", "--uidmap", "20:100005:10"], "overlap on the outside"),
    (["--uidmap", "0:4294967290:100"], "past the largest id"),
    (["--uidmap", "0:x:1"], "must be integers"),
    (["--gidmap", "0:1000:1"], "without --uidmap"),
])
def test_map_rules_caught_first(runner, args, needle):
    r = runner.run("run", *args, "--", "true")
    assert r.returncode == 125
    assert needle in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1


def test_too_many_lines(runner):
    args = []
    for i in range(341):
        args += ["--uidmap", f"{i}:{100000 + i}:1"]
    r = runner.run("run", *args, "--", "true")
    assert r.returncode == 125 and "at most 340" in r.stderr


@pytest.mark.rootless
def test_rootless_may_not_map_foreign_ids(rootless_runner):
    r = rootless_runner.run("run", "--uidmap", "0:0:1", "--", "true")
    assert r.returncode == 125
    assert "are not yours" in r.stderr and "/etc/subuid" in r.stderr


@pytest.mark.rootless
def test_rootless_cannot_share_user_namespace(rootless_runner):
    r = rootless_runner.run("run", "--userns", "host", "--", "true")
    assert r.returncode == 125 and "needs a new user namespace" in r.stderr


@pytest.mark.rootless
def test_files_of_subordinate_ids_are_cleaned_up(rootless_runner, busybox_rootfs, shared_tmp):
    # files owned by ids the user is not (its /etc/subuid range) must still go with the container
    import tarfile

    tar = os.path.join(shared_tmp, "root.tar")
    with tarfile.open(tar, "w") as tf:
        tf.add(busybox_rootfs, arcname=".")
    os.chmod(tar, 0o644)
    r = rootless_runner.run("run", "--userns", "auto", "--rootfs", tar, "--", "sh", "-c",
                            "mkdir -p /home/u/d && touch /home/u/d/f && chown -R 1000:1000 /home/u && "
                            "chmod 700 /home/u/d", check=True)
    assert r.returncode == 0
    from .leaks import leftovers

    assert leftovers(rootless_runner.root) == {}


@pytest.mark.root
def test_tarball_owned_by_the_containers_root_in_a_user_namespace(root_runner, busybox_rootfs, shared_tmp):
    import tarfile

    tar = os.path.join(shared_tmp, "root.tar")
    with tarfile.open(tar, "w") as tf:
        tf.add(busybox_rootfs, arcname=".")
    r = root_runner.run("run", "--uidmap", "0:300000:65536", "--rootfs", tar, "--", "sh", "-c",
                        "ls -ln /bin/busybox; echo x > /etc/newfile && mkdir /newdir && echo writable", check=True)
    assert "writable" in r.stdout
    assert r.stdout.split()[2:4] == ["0", "0"]  # uid/gid as the container sees them


def test_rootfs_path_with_overlay_separators(runner, busybox_rootfs, shared_tmp):
    import shutil

    odd = os.path.join(shared_tmp, "a:b,c")
    shutil.copytree(busybox_rootfs, odd, symlinks=True)
    r = runner.run("run", "--rootfs", odd, "--", "sh", "-c", "echo hi > /f && cat /f", check=True)
    assert r.stdout == "hi\n"
