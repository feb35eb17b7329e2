"""Prepare the root filesystem input the engine receives (builder.RootfsInput).

- no --rootfs: the embedded default, an empty directory that the spec fills with
  the host's system directories (read-only) and private writable ones;
- a directory: copy-on-write through overlayfs (the directory is never
  modified); where the kernel has no overlayfs, a private copy;
- a tarball: unpacked safely (nsbox.image.unpack) into the container's directory.
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..specgen.builder import HOST_SYSTEM_DIRS, RootfsInput

ROOT_MARKERS = ("bin", "usr", "sbin", "lib", "etc")


def prepare(rootfs: str | None, cdir: str, owner: tuple[int, int] | None = None, maps=None) -> RootfsInput:
    """Create what the container's root needs under ``cdir``.

    ``owner`` (host uid, gid of the container's root) is given when the container's
    root is not the caller, so the directories it writes to belong to it."""
    root = f"{cdir}/rootfs"
    os.mkdir(root, 0o755)
    if rootfs is None:
        for d in HOST_SYSTEM_DIRS:
            if os.path.islink(d):
                os.symlink(os.readlink(d), root + d)
        upper, work = f"{cdir}/etc-upper", f"{cdir}/etc-work"
        os.mkdir(upper, 0o755)
        os.mkdir(work, 0o700)
        _chown(owner, root, upper, work)
        return RootfsInput(root, upper=upper, work=work, host=True, passwd="/etc/passwd")
    src = os.path.abspath(rootfs)
    if os.path.isdir(src):
        check_root_dir(src, rootfs)
        if overlay_available():
            upper, work = f"{cdir}/upper", f"{cdir}/work"
            os.mkdir(upper, 0o755)
            os.mkdir(work, 0o700)
            _chown(owner, root, upper, work)
            return RootfsInput(root, lowers=(src,), upper=upper, work=work,
                               passwd=f"{src}/etc/passwd")
        copy_tree(src, root)
        return RootfsInput(root, passwd=f"{root}/etc/passwd")
    if os.path.isfile(src):
        from .unpack import unpack

        unpack(src, root, shift=_shifter(maps) if maps and owner is not None else None)
        check_root_dir(root, rootfs)
        _chown(owner, root)
        return RootfsInput(root, passwd=f"{root}/etc/passwd")
    raise ConfigError(f"--rootfs `{rootfs}`: no such directory or tarball")


def _shifter(maps):
    """uid/gid inside -> host through the container's maps (unmapped ids are kept)."""
    from ..runtime.userns import ranges, to_host

    uids, gids = ranges(maps[0]), ranges(maps[1])

    def shift(uid: int, gid: int) -> tuple[int, int]:
        u, g = to_host(uids, uid), to_host(gids, gid)
        return (uid if u is None else u), (gid if g is None else g)

    return shift


def check_root_dir(path: str, shown: str) -> None:
    if not any(os.path.lexists(f"{path}/{m}") for m in ROOT_MARKERS):
        raise ConfigError(f"--rootfs `{shown}`: not a root filesystem (none of /{', /'.join(ROOT_MARKERS)} "
                          "in it)")


def overlay_available() -> bool:
    try:
        with open("/proc/filesystems") as f:
            return any(line.split()[-1] == "overlay" for line in f if line.strip())
    except OSError:
        return False


def _chown(owner: tuple[int, int] | None, *paths: str) -> None:
    if owner is None:
        return
    for p in paths:
        os.chown(p, owner[0], owner[1])


def copy_tree(src: str, dst: str) -> None:
    import shutil

    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
