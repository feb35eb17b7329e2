"""The rootfs plan and its executor, with a RecordingKernel (no privileges)."""

from __future__ import annotations

import errno

import pytest

from nsbox.errors import ConfigError
from nsbox.kernel import mount as M
from nsbox.kernel.errors import KernelError
from nsbox.kernel.recording import RecordingKernel
from nsbox.runtime import rootfs
from nsbox.runtime.plan import DeviceStep, MountStep, make_plan
from nsbox.spec import model as m


def spec(mounts=(), namespaces=("mount", "pid"), **linux) -> m.Spec:
    return m.Spec(process=m.Process(args=("sh",)), root=m.Root(path="/r"), mounts=tuple(mounts),
                  linux=m.Linux(namespaces=tuple(m.Namespace(type=t) for t in namespaces), **linux))


def test_no_mount_namespace_means_no_rootfs_steps():
    p = make_plan(spec(namespaces=("pid",)), new_userns=False, rootless=False, cgroup_ns=False)
    assert not p.setup_rootfs


def test_mount_steps_parse_options():
    mounts = [m.Mount(destination="/proc", type="proc", source="proc", options=("nosuid", "noexec", "nodev")),
              m.Mount(destination="/data", type="bind", source="/src", options=("rbind", "ro", "rslave")),
              m.Mount(destination="/t", type="tmpfs", source="tmpfs", options=("mode=1777", "size=1m"))]
    p = make_plan(spec(mounts), new_userns=False, rootless=False, cgroup_ns=False, source_is_file=lambda s: False)
    proc, data, t = p.mounts
    assert proc == MountStep("/proc", "proc", "proc", M.MS_NOSUID | M.MS_NOEXEC | M.MS_NODEV, "")
    assert data.kind == "bind" and data.flags == M.MS_BIND | M.MS_REC and data.remount == M.MS_RDONLY
    assert data.propagation == M.MS_SLAVE | M.MS_REC
    assert p.explicit == ["/data"]
    assert t.data == "mode=1777,size=1m"


def test_devices_mknod_as_root_bind_in_userns():
    p = make_plan(spec(), new_userns=False, rootless=False, cgroup_ns=False)
    assert [d.dest for d in p.devices] == ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                                           "/dev/tty"]
    assert not any(d.bind for d in p.devices)
    p = make_plan(spec(), new_userns=True, rootless=True, cgroup_ns=False)
    assert all(d.bind for d in p.devices)


def test_relative_destination_refused():
    with pytest.raises(ConfigError, match="mounts\\[0\\]: mount destination `proc` must be an absolute path"):
        make_plan(spec([m.Mount(destination="proc", type="proc")]), new_userns=False, rootless=False,
                  cgroup_ns=False)


def test_bad_root_propagation_refused():
    with pytest.raises(ConfigError, match="linux.rootfsPropagation"):
        make_plan(spec(rootfs_propagation="sideways"), new_userns=False, rootless=False, cgroup_ns=False)


def test_overlay_root_from_annotations():
    s = spec().replace(annotations={m.ANN_OVERLAY_LOWER: "/l1:/l2", m.ANN_OVERLAY_UPPER: "/u",
                                    m.ANN_OVERLAY_WORK: "/w"})
    p = make_plan(s, new_userns=True, rootless=True, cgroup_ns=False)
    k = RecordingKernel()
    rootfs.mount_root(p, k)
    assert k.mounts()[1] == ("overlay", "/r (overlay root)", "overlay", 0,
                             "lowerdir=/l1:/l2,upperdir=/u,workdir=/w,userxattr")


def test_setup_order():
    mounts = [m.Mount(destination="/proc", type="proc", source="proc"),
              m.Mount(destination="/dev", type="tmpfs", source="tmpfs"),
              m.Mount(destination="/dev/pts", type="devpts", source="devpts", options=("newinstance", "gid=5"))]
    p = make_plan(spec(mounts), new_userns=False, rootless=False, cgroup_ns=False)
    k = RecordingKernel()
    rootfs.setup(p, k)
    names = k.names()
    # propagation first, root bind, the mounts in order, devices, symlinks, then pivot and detach
    assert k.calls[0] == ("mount", (None, "/", None, M.MS_SLAVE | M.MS_REC, None))
    assert k.calls[1][1][:4] == ("/r", "/r (root)", None, M.MS_BIND | M.MS_REC)
    targets = [c[1][1] for c in k.calls if c[0] == "mount"][2:5]
    assert targets == ["/proc", "/dev", "/dev/pts"]
    assert names.index("mknod") > names.index("mount")
    assert ("symlink", ("pts/ptmx", "/dev/ptmx")) in k.calls
    tail = [c for c in k.calls if c[0] in ("fchdir", "pivot_root", "umount", "chdir")]
    assert tail == [("fchdir", ("/",)), ("pivot_root", (".", ".")), ("umount", ("old root", M.MNT_DETACH)),
                    ("chdir", ("/",))]


def test_devpts_retried_without_unmapped_gid():
    mounts = [m.Mount(destination="/dev/pts", type="devpts", source="devpts", options=("newinstance", "gid=5"))]
    p = make_plan(spec(mounts), new_userns=True, rootless=True, cgroup_ns=False)
    k = RecordingKernel()
    k.fail("mount", errno.EINVAL, match="/dev/pts")
    rootfs.do_mount(p.mounts[0], k, 3)
    assert k.mounts()[-1] == ("devpts", "/dev/pts", "devpts", 0, "newinstance")


def test_mount_error_names_both_ends():
    step = MountStep("/proc", "proc", "proc", 0, "")
    k = RecordingKernel()
    k.fail("mount", errno.EPERM, match="/proc")
    with pytest.raises(KernelError) as e:
        rootfs.do_mount(step, k, 3)
    assert e.value.errno == errno.EPERM
    # the container path, not the /proc/self/fd/N the kernel was given
    assert str(e.value) == "mount `proc` to `/proc`: Operation not permitted"
    step = MountStep("/data", "/srv/data", None, M.MS_BIND, "", kind="bind")
    k.fail("mount", errno.EINVAL, match="/data")
    with pytest.raises(KernelError) as e:
        rootfs.do_mount(step, k, 3)
    assert str(e.value) == "mount `/srv/data` to `/data`: Invalid argument"
    k.fail("mount", errno.ENOENT, match="/data")  # diagnosed: the source is what is missing
    with pytest.raises(KernelError) as e:
        rootfs.do_mount(step, k, 3)
    assert str(e.value) == "bind mount source `/srv/data`: No such file or directory"


def test_bind_remount_keeps_locked_flags():
    step = MountStep("/data", "/src", None, M.MS_BIND | M.MS_REC, "", remount=M.MS_RDONLY, kind="bind")
    k = RecordingKernel()
    k.flags["/data"] = M.MS_NOSUID | M.MS_NODEV  # what the kernel locked on the source
    rootfs.do_mount(step, k, 3)
    remount = k.mounts()[-1]
    assert remount[3] == M.MS_BIND | M.MS_REMOUNT | M.MS_RDONLY | M.MS_NOSUID | M.MS_NODEV


def test_device_bind_and_mknod():
    k = RecordingKernel()
    rootfs.make_device(DeviceStep("/dev/null", "c", 1, 3, 0o666, 0, 0, bind=True), k, 3)
    assert k.mounts() == [("/dev/null", "/dev/null", None, M.MS_BIND, None)]
    k = RecordingKernel()
    rootfs.make_device(DeviceStep("/dev/zero", "c", 1, 5, 0o666, 0, 0, bind=False), k, 3)
    assert ("mknod", ("/dev/zero", 0o020666, __import__("os").makedev(1, 5))) in k.calls


def test_masked_paths():
    k = RecordingKernel()
    k.fail("open_in_root", errno.ENOENT, match="/proc/missing")
    rootfs.mask("/proc/missing", k)  # absent: nothing to hide
    assert k.mounts() == []
    rootfs.mask("/proc/kcore", k)
    assert k.mounts() == [("/dev/null", "/proc/kcore", None, M.MS_BIND, None)]
