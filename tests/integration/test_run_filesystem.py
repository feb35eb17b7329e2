"""nsbox run: root filesystems, volumes, propagation, the old root, /dev and /proc."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time

import pytest


def test_old_root_is_gone(runner):
    r = runner.run("run", "--", "cat", "/proc/self/mountinfo", check=True)
    targets = [line.split()[4] for line in r.stdout.splitlines()]
    assert targets[0] == "/"
    # only the container's own mounts: no host mount point (e.g. the state dir, /work, /boot) is visible
    host_only = {line.split()[4] for line in open("/proc/self/mountinfo")} - set(targets)
    assert not any(t in targets for t in host_only)
    assert not any("nsbox" in t for t in targets)
    r = runner.run("run", "--", "ls", "-a", "/", check=True)
    assert not any("old" in name for name in r.stdout.split())


def test_rootfs_directory_is_never_modified(runner, busybox_rootfs):
    before = sorted(os.listdir(busybox_rootfs))
    r = runner.run("run", "--rootfs", busybox_rootfs, "--", "sh", "-c",
                   "echo data > /newfile; rm /bin/ls; echo x > /etc/passwd; cat /newfile; ls /bin/ls 2>&1",
                   check=False)
    assert "data" in r.stdout
    assert sorted(os.listdir(busybox_rootfs)) == before
    assert os.path.exists(os.path.join(busybox_rootfs, "bin/ls"))
    assert "root:x:0:0" in open(os.path.join(busybox_rootfs, "etc/passwd")).read()


def _make_tar(path: str, rootfs: str, compression: str = "") -> None:
    mode = "w:" + compression
    with tarfile.open(path, mode) as tf:
        tf.add(rootfs, arcname=".")


@pytest.mark.parametrize("comp", ["", "gz", "xz"])
def test_rootfs_tarball(runner, busybox_rootfs, shared_tmp, comp):
    tar = os.path.join(shared_tmp, f"root.tar{'.' + comp if comp else ''}")
    _make_tar(tar, busybox_rootfs, comp)
    os.chmod(tar, 0o644)
    st = os.stat(tar)
    r = runner.run("run", "--rootfs", tar, "--", "sh", "-c", "echo hi > /f; cat /f; ls /bin/busybox", check=True)
    assert r.stdout.split() == ["hi", "/bin/busybox"]
    assert os.stat(tar).st_mtime == st.st_mtime and os.stat(tar).st_size == st.st_size


def _evil_tar(path: str, kind: str) -> None:
    with tarfile.open(path, "w") as tf:
        def add(name: str, data: bytes = b"x", **kw) -> None:
            ti = tarfile.TarInfo(name)
            for k, v in kw.items():
                setattr(ti, k, v)
            ti.size = len(data) if ti.type == tarfile.REGTYPE else 0
            tf.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)
        add("bin/", type=tarfile.DIRTYPE, mode=0o755)
        add("bin/sh", b"#!x", mode=0o755)
        if kind == "dotdot":
            add("../escaped")
        elif kind == "absolute":
            add("/tmp/escaped-abs")
        elif kind == "symlink-out":
            add("etc", type=tarfile.SYMTYPE, linkname="../../../../tmp")
        elif kind == "through-symlink":
            add("link", type=tarfile.SYMTYPE, linkname="/")
            add("link/tmp/escaped-through")
        elif kind == "hardlink-out":
            add("evil", type=tarfile.LNKTYPE, linkname="../../etc/passwd")


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink-out", "through-symlink", "hardlink-out"])
def test_tar_traversal_refused(runner, shared_tmp, kind):
    tar = os.path.join(shared_tmp, f"evil-{kind}.tar")
    _evil_tar(tar, kind)
    os.chmod(tar, 0o644)
    r = runner.run("run", "--rootfs", tar, "--", "true")
    assert r.returncode == 125, r.stderr
    assert r.stderr.startswith("nsbox: ") and "Traceback" not in r.stderr
    assert not os.path.exists("/tmp/escaped-abs") and not os.path.exists("/tmp/escaped-through")
    assert not os.path.exists(os.path.join(os.path.dirname(shared_tmp), "escaped"))
    assert os.listdir(f"{runner.root}/containers") == [] if os.path.isdir(f"{runner.root}/containers") else True


def test_not_a_root_filesystem(runner, shared_tmp):
    r = runner.run("run", "--rootfs", shared_tmp, "--", "true")
    assert r.returncode == 125 and "not a root filesystem" in r.stderr


def test_volumes_ro_rw(runner, shared_tmp):
    with open(os.path.join(shared_tmp, "in"), "w") as f:
        f.write("from-host")
    os.chmod(os.path.join(shared_tmp, "in"), 0o666)
    r = runner.run("run", "-v", f"{shared_tmp}:/data", "--", "sh", "-c", "cat /data/in; echo out > /data/out",
                   check=True)
    assert r.stdout == "from-host"
    assert open(os.path.join(shared_tmp, "out")).read() == "out\n"
    r = runner.run("run", "-v", f"{shared_tmp}:/data:ro", "--", "sh", "-c", "echo x > /data/ro-test")
    assert r.returncode != 0 and "Read-only" in r.stderr
    assert not os.path.exists(os.path.join(shared_tmp, "ro-test"))


def test_volume_file_and_missing_source(runner, shared_tmp):
    f = os.path.join(shared_tmp, "single")
    with open(f, "w") as fh:
        fh.write("one file")
    os.chmod(f, 0o644)
    r = runner.run("run", "-v", f"{f}:/etc/single:ro", "--", "cat", "/etc/single", check=True)
    assert r.stdout == "one file"
    r = runner.run("run", "-v", "/nonexistent-src:/x", "--", "true")
    assert r.returncode == 125 and "/nonexistent-src" in r.stderr and "does not exist" in r.stderr


def test_file_created_inside_is_owned_by_caller_outside(runner, shared_tmp):
    r = runner.run("run", "-v", f"{shared_tmp}:/w", "--", "sh", "-c", "touch /w/made-inside; id -u", check=True)
    assert r.stdout.strip() == "0"
    st = os.stat(os.path.join(shared_tmp, "made-inside"))
    want = runner.user.pw_uid if runner.rootless else 0
    assert st.st_uid == want


def test_tmpfs_and_read_only_root(runner, busybox_rootfs):
    r = runner.run("run", "--rootfs", busybox_rootfs, "--read-only", "--tmpfs", "/scratch", "--", "sh", "-c",
                   "echo ok > /scratch/f && cat /scratch/f; echo x > /rootfile 2>&1 || echo refused")
    assert r.stdout.split() == ["ok", "refused"], r.stderr


def test_dev_contents(runner):
    r = runner.run("run", "--", "sh", "-c",
                   "ls /dev; echo x > /dev/null; head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c",
                   check=True)
    out = r.stdout.split()
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx", "fd", "stdin"):
        assert node in out, node
    assert out[-2:] == ["4", "4"]
    r = runner.run("run", "--", "ls", "/dev/pts", check=True)
    assert r.stdout.split() == ["ptmx"]  # a new devpts instance: none of the host's terminals


def test_proc_is_fresh_and_sys_read_only(runner):
    r = runner.run("run", "--", "sh", "-c", "ls /proc | grep -c '^[0-9]'; touch /sys/x 2>&1 || echo ro", check=True)
    lines = r.stdout.split("\n")
    assert int(lines[0]) <= 3
    assert "ro" in r.stdout or "Read-only" in r.stdout


def test_host_secrets_masked_in_default_root(runner):
    r = runner.run("run", "--", "sh", "-c", "wc -c < /etc/shadow; cat /etc/hostname >/dev/null && echo ok",
                   check=True)
    assert r.stdout.split()[0] == "0"


# -- propagation (mount_namespaces(7)) ----------------------------------------------------------

@pytest.fixture
def shared_mount(shared_tmp):
    """A tmpfs on the host, made shared, to bind into containers."""
    d = os.path.join(shared_tmp, "prop")
    os.makedirs(d)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
    subprocess.run(["mount", "--make-shared", d], check=True)
    os.chmod(d, 0o777)
    yield d
    subprocess.run(["umount", "-R", "-l", d])


SCRIPT = ("touch /w/ready; i=0; while [ ! -e /w/go ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; "
          "grep -q ' /mnt/sub ' /proc/self/mountinfo && echo seen || echo unseen")


def _propagation_case(runner, shared_tmp, shared_mount, *args: str, volume: str = "") -> str:
    p = runner.popen("run", "-v", f"{shared_tmp}:/w", "-v", volume or f"{shared_mount}:/mnt", *args, "--",
                     "sh", "-c", SCRIPT, text=True)
    try:
        end = time.monotonic() + 20
        while not os.path.exists(os.path.join(shared_tmp, "ready")):
            assert time.monotonic() < end and p.poll() is None, p.stderr.read() if p.poll() is not None else ""
            time.sleep(0.02)
        sub = os.path.join(shared_mount, "sub")
        os.makedirs(sub, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", sub], check=True)
        open(os.path.join(shared_tmp, "go"), "w").close()
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        return out.strip()
    finally:
        if p.poll() is None:
            p.kill()
        subprocess.run(["umount", "-l", os.path.join(shared_mount, "sub")], capture_output=True)


@pytest.mark.parametrize("prop,expect", [("private", "unseen"), ("slave", "seen"), ("shared", "seen")])
def test_root_propagation(runner, shared_tmp, shared_mount, prop, expect):
    assert _propagation_case(runner, shared_tmp, shared_mount, "--propagation", prop) == expect


@pytest.mark.parametrize("prop,expect", [("rprivate", "unseen"), ("rslave", "seen")])
def test_volume_propagation(runner, shared_tmp, shared_mount, prop, expect):
    # per-volume option overrides the root's (default private)
    out = _propagation_case(runner, shared_tmp, shared_mount, volume=f"{shared_mount}:/mnt:{prop}")
    assert out == expect


def test_default_propagation_is_private(runner, shared_tmp, shared_mount):
    assert _propagation_case(runner, shared_tmp, shared_mount) == "unseen"


def test_unbindable(runner):
    # (mounting inside needs CAP_SYS_ADMIN: not in the default set, as in Docker)
    r = runner.run("run", "--cap-add", "SYS_ADMIN", "--propagation", "unbindable", "--", "sh", "-c",
                   "mkdir -p /tmp/a /tmp/b; mount --bind /tmp /tmp/b 2>&1; echo rc=$?")
    assert "rc=0" not in r.stdout
    r = runner.run("run", "--cap-add", "SYS_ADMIN", "--propagation", "private", "--", "sh", "-c",
                   "mkdir -p /tmp/b; mount --bind /tmp /tmp/b 2>&1; echo rc=$?")
    assert "rc=0" in r.stdout


@pytest.mark.root
def test_shared_does_not_propagate_back_to_host(root_runner, shared_tmp, shared_mount):
    r = root_runner.run("run", "--cap-add", "SYS_ADMIN", "-v", f"{shared_mount}:/mnt:rshared", "--", "sh", "-c",
                        "mkdir -p /mnt/inner && mount -t tmpfs tmpfs /mnt/inner && echo mounted", check=True)
    assert "mounted" in r.stdout
    with open("/proc/self/mountinfo") as f:
        assert not any(line.split()[4] == os.path.join(shared_mount, "inner") for line in f)
