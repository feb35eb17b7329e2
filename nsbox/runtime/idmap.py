"""Idmapped bind mounts (config.md ``idmap``/``ridmap``, mount uidMappings/gidMappings).

The parent, before fork, makes one user namespace per mapping (a child unshares
it, the maps are written, its /proc/PID/ns/user is kept open: ``userns_fds``);
init clones the source tree (open_tree(2) OPEN_TREE_CLONE), sets
MOUNT_ATTR_IDMAP with that namespace (mount_setattr(2), Linux >= 5.12) and
attaches it (move_mount(2)).  The namespace fds are closed before execve (every
fd above 2 is close-on-exec) and by the parent once create returns.
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..kernel.errors import KernelError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .plan import MountStep


def userns_fd(uid_ranges, gid_ranges) -> int:
    """An fd of a new user namespace with these maps ((container, host, size) ranges)."""
    from ..kernel import ns

    r, w = os.pipe2(os.O_CLOEXEC)
    r2, w2 = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.close(w2)
            ns.unshare(ns.KINDS["user"][0])
            os.write(w, b"1")
            os.read(r2, 1)  # until the parent has opened our namespace
        finally:
            os._exit(0)
    os.close(w)
    os.close(r2)
    try:
        if os.read(r, 1) != b"1":
            raise KernelError(1, "create a user namespace for an idmapped mount")
        for which, ranges in (("uid", uid_ranges), ("gid", gid_ranges)):
            text = "".join(f"{c} {h} {n}\n" for c, h, n in ranges)
            try:
                with open(f"/proc/{pid}/{which}_map", "w") as f:
                    f.write(text)
            except OSError as e:
                raise KernelError(e.errno or 0, f"write {which}_map {text.strip()!r} for an idmapped mount") from None
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(r)
        os.close(w2)
        os.waitpid(pid, 0)


def prepare(plan, linux, rootless: bool, undo) -> None:
    """Give every idmapped step its namespace fd (the container's maps when it names none)."""
    for i, step in enumerate(plan.mounts):
        if step.idmap is None:
            continue
        uids, gids, _rec = step.idmap
        if not uids:
            if not linux.uid_mappings or linux.namespace("user") is None:
                raise ConfigError(f"mounts[{i}]: idmap without uidMappings needs the container's user namespace "
                                  "mappings (config.md)")
            uids = tuple((m.container_id, m.host_id, m.size) for m in linux.uid_mappings)
            gids = tuple((m.container_id, m.host_id, m.size) for m in linux.gid_mappings)
        if rootless:
            raise ConfigError(f"mounts[{i}]: idmapped mounts need root (writing arbitrary id maps)")
        fd = userns_fd(uids, gids)
        step.idmap_fd = fd
        undo.push(f"close the idmap namespace of `{step.dest}`", lambda fd=fd: os.close(fd))


def idmapped_bind(step: MountStep, target: str) -> None:
    from ..kernel import fs

    recursive = bool(step.flags & 0x4000)  # MS_REC: rbind
    tree = fs.open_tree(step.source, recursive, label=step.source)
    try:
        fs.mount_setattr(tree, "", fs.MOUNT_ATTR_IDMAP, 0, step.idmap[2], label=step.dest,
                         userns_fd=step.idmap_fd)
        fs.move_mount(tree, int(target.rsplit("/", 1)[1]), label=step.dest)  # target: /proc/self/fd/N
    finally:
        os.close(tree)
