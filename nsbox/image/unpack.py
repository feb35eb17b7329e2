"""Unpack a root filesystem tarball without letting any entry land outside it.

Refused, with the entry named: absolute names, ``..`` components, entries whose
parent is a symlink (so nothing is written through a link), relative symlinks
that climb above the root, and hard links to anything outside (or not yet
unpacked).  Absolute symlinks are kept: in a root filesystem ``/bin/sh ->
/bin/busybox`` means the container's own /bin (Alpine's minirootfs is built so),
and nsbox resolves paths inside the root at run time; they are never followed
here.  Every file is created with O_NOFOLLOW relative to a directory fd.

Image layers (:func:`unpack_layer`) are read as a stream, and their whiteouts
become overlayfs's: ``.wh.NAME`` a 0/0 character device NAME, ``.wh..wh..opq``
the directory's ``overlay.opaque`` xattr (``trusted.`` as root, and ``user.``
for overlays mounted with ``userxattr`` in a user namespace).  A whiteout whose
name is empty, ``.`` or ``..`` is refused; device nodes are skipped (with a
note) when the caller may not create them; ``limit`` caps the unpacked bytes (a
decompression bomb stops there).
"""

from __future__ import annotations

import errno as E
import os
import stat

from ..errors import ConfigError, NsboxError

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


OPAQUE = ".wh..wh..opq"
WHITEOUT_PREFIX = ".wh."


class UnsafeEntry(ConfigError):
    pass


class TooLarge(ConfigError):
    pass


class Options:
    """How entries are written: ownership (and its id shift), layer semantics, the size cap."""

    def __init__(self, source: str, owner: bool, shift=None, layer: bool = False, limit: int = 0) -> None:
        self.source = source
        self.owner = owner
        self.shift = shift
        self.layer = layer
        self.limit = limit
        self.written = 0
        self.notes: list[str] = []
        self.dir_modes: list[tuple[list[str], int]] = []


def clean_name(name: str, tarball: str, what: str = "entry") -> list[str]:
    """Split a member name into components; refuse absolute names and ``..``."""
    if name.startswith("/"):
        raise UnsafeEntry(f"{tarball}: tar {what} `{name}`: absolute path (would land outside the root)")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeEntry(f"{tarball}: tar {what} `{name}`: `..` escapes the target directory")
    return parts


def symlink_escapes(entry_parts: list[str], target: str) -> bool:
    """Does a relative link target climb above the root from the link's directory?"""
    if target.startswith("/"):
        return False
    depth = len(entry_parts) - 1
    for p in target.split("/"):
        if p == "..":
            depth -= 1
            if depth < 0:
                return True
        elif p not in ("", "."):
            depth += 1
    return False


def _walk(root_fd: int, parts: list[str], tarball: str, name: str, create: bool = True) -> int:
    """An fd for the directory ``parts`` under root, never following a symlink."""
    fd = os.dup(root_fd)
    for i, p in enumerate(parts):
        try:
            nfd = os.open(p, O_DIR, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                os.close(fd)
                raise
            os.mkdir(p, 0o755, dir_fd=fd)
            nfd = os.open(p, O_DIR, dir_fd=fd)
        except OSError as e:
            os.close(fd)
            if e.errno in (E.ELOOP, E.ENOTDIR):
                where = "/".join(parts[: i + 1])
                raise UnsafeEntry(f"{tarball}: tar entry `{name}`: its parent `{where}` is a symlink or "
                                  "not a directory (refusing to write through it)") from None
            raise
        os.close(fd)
        fd = nfd
    return fd


def unpack(tarball: str, dest: str, preserve_owner: bool | None = None, shift=None) -> list[str]:
    """Unpack ``tarball`` (tar, .gz, .xz, .bz2) into the existing directory ``dest``.

    ``shift(uid, gid) -> (uid, gid)`` maps the archive's ids to host ids for a
    container in a user namespace (so its root owns what the archive's root owns).
    Returns notes (entries skipped)."""
    import tarfile

    if preserve_owner is None:
        preserve_owner = os.geteuid() == 0
    try:
        tf = tarfile.open(tarball, "r:*")
    except (OSError, tarfile.TarError) as e:
        raise ConfigError(f"--rootfs `{tarball}`: not a readable tar archive ({e})") from None
    opts = Options(tarball, preserve_owner, shift)
    try:
        _unpack_all(tf, dest, opts)
    except tarfile.TarError as e:
        raise ConfigError(f"--rootfs `{tarball}`: corrupt archive ({e})") from None
    return opts.notes


def unpack_layer(stream, dest: str, source: str, preserve_owner: bool | None = None, limit: int = 0) -> list[str]:
    """Unpack an uncompressed layer tar read from ``stream`` (sequentially) into ``dest``,
    whiteouts as overlayfs's.  ``limit`` (bytes, 0: none) caps the files' total size.
    Returns notes (entries skipped)."""
    import tarfile

    if preserve_owner is None:
        preserve_owner = os.geteuid() == 0
    opts = Options(source, preserve_owner, layer=True, limit=limit)
    try:
        tf = tarfile.open(fileobj=stream, mode="r|")
        _unpack_all(tf, dest, opts)
    except tarfile.TarError as e:
        raise ConfigError(f"{source}: not a valid layer tar ({e})") from None
    if opts.notes:
        opts.notes = _summarise(opts.notes)
    return opts.notes


def _summarise(notes: list[str]) -> list[str]:
    if len(notes) <= 3:
        return notes
    return notes[:3] + [f"... and {len(notes) - 3} more"]


def _unpack_all(tf, dest: str, opts: Options) -> None:
    root_fd = os.open(dest, O_DIR)
    try:
        with tf:
            for member in tf:
                if opts.shift is not None and opts.owner:
                    member.uid, member.gid = opts.shift(member.uid, member.gid)
                _extract(tf, member, root_fd, opts)
        for parts, mode in reversed(opts.dir_modes):
            try:
                fd = _walk(root_fd, parts, opts.source, "/".join(parts), create=False)
            except OSError:
                continue
            try:
                os.chmod(fd, mode)
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)


def _extract(tf, member, root_fd: int, o: Options) -> None:
    tarball = o.source
    parts = clean_name(member.name, tarball)
    if not parts:
        if member.isdir():
            return
        raise UnsafeEntry(f"{tarball}: tar entry `{member.name}`: empty name")
    if member.issym() and symlink_escapes(parts, member.linkname):
        raise UnsafeEntry(f"{tarball}: tar entry `{member.name}`: symlink to `{member.linkname}` points "
                          "outside the root")
    if o.layer and parts[-1].startswith(WHITEOUT_PREFIX):
        _whiteout(member.name, parts, root_fd, o)
        return
    if member.isreg() and o.limit:
        o.written += member.size
        if o.written > o.limit:
            raise TooLarge(f"{tarball}: unpacked size exceeds the limit of {o.limit} bytes at `{member.name}` "
                           "(a decompression bomb?)")
    pfd = _walk(root_fd, parts[:-1], tarball, member.name)
    try:
        if _create(tf, member, parts, root_fd, pfd, o):
            _set_attrs(member, parts[-1], pfd, o.owner)
    except UnsafeEntry:
        raise
    except OSError as e:
        raise NsboxError(f"{tarball}: unpack `{member.name}`: {e.strerror}") from None
    finally:
        os.close(pfd)


def _create(tf, member, parts: list[str], root_fd: int, pfd: int, o: Options) -> bool:
    """Create the entry; False when it was skipped (its attributes are not set)."""
    base = parts[-1]
    if member.isdir():
        try:
            os.mkdir(base, 0o700, dir_fd=pfd)
        except FileExistsError:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                _remove(pfd, base)
                os.mkdir(base, 0o700, dir_fd=pfd)
        o.dir_modes.append((parts, member.mode & (0o7777 if o.owner else 0o777)))
        return True
    if member.ischr() or member.isblk():
        if not o.owner:  # an unprivileged user may not mknod; the runtime provides /dev
            o.notes.append(f"device node `{member.name}` skipped (rootless)")
            return False
    elif not (member.isreg() or member.issym() or member.islnk() or member.isfifo()):
        return False
    _remove(pfd, base)
    if member.isreg():
        src = tf.extractfile(member)
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        try:
            while chunk := src.read(1 << 20):
                os.write(fd, chunk)
        finally:
            os.close(fd)
    elif member.issym():
        os.symlink(member.linkname, base, dir_fd=pfd)
    elif member.islnk():
        _hardlink(member, root_fd, pfd, base, o.source)
    elif member.isfifo():
        os.mkfifo(base, 0o600, dir_fd=pfd)
    else:
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(base, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=pfd)
    return True


def _set_attrs(member, base: str, pfd: int, owner: bool) -> None:
    if owner:
        os.chown(base, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
    if not member.issym() and not member.isdir():
        os.chmod(base, member.mode & (0o7777 if owner else 0o777), dir_fd=pfd)
    if not member.issym():
        os.utime(base, (member.mtime, member.mtime), dir_fd=pfd, follow_symlinks=False)


def _whiteout(name: str, parts: list[str], root_fd: int, o: Options) -> None:
    """An OCI whiteout as overlayfs's: ``.wh..wh..opq`` marks its directory opaque,
    ``.wh.NAME`` hides NAME of the layers below (a 0/0 character device)."""
    base = parts[-1]
    target = base[len(WHITEOUT_PREFIX):]
    if base != OPAQUE and (target in ("", ".", "..") or target.startswith(WHITEOUT_PREFIX)):
        raise UnsafeEntry(f"{o.source}: whiteout `{name}`: `{target}` is not a name in its directory")
    pfd = _walk(root_fd, parts[:-1], o.source, name)
    try:
        if base == OPAQUE:
            for attr in (("trusted.overlay.opaque", "user.overlay.opaque") if o.owner else
                         ("user.overlay.opaque",)):
                os.setxattr(pfd, attr, b"y")
            return
        try:
            os.stat(target, dir_fd=pfd, follow_symlinks=False)
            return  # this layer has it: a whiteout hides only what the layers below have
        except FileNotFoundError:
            pass
        os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(0, 0), dir_fd=pfd)
    except OSError as e:
        raise NsboxError(f"{o.source}: whiteout `{name}`: {e.strerror}") from None
    finally:
        os.close(pfd)


def _remove(pfd: int, base: str) -> None:
    try:
        st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise OSError(E.EISDIR, "an earlier entry made this a directory")
    os.unlink(base, dir_fd=pfd)


def _hardlink(member, root_fd: int, pfd: int, base: str, tarball: str) -> None:
    parts = clean_name(member.linkname, tarball, "hard link target")
    if not parts:
        raise UnsafeEntry(f"{tarball}: tar entry `{member.name}`: hard link to the root")
    try:
        sfd = _walk(root_fd, parts[:-1], tarball, member.name, create=False)
    except FileNotFoundError:
        raise UnsafeEntry(f"{tarball}: tar entry `{member.name}`: hard link to `{member.linkname}`, "
                          "which is not in the archive before it") from None
    try:
        st = os.stat(parts[-1], dir_fd=sfd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeEntry(f"{tarball}: tar entry `{member.name}`: hard link to a directory")
        os.link(parts[-1], base, src_dir_fd=sfd, dst_dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        raise UnsafeEntry(f"{tarball}: tar entry `{member.name}`: hard link to `{member.linkname}`, "
                          "which is not in the archive before it") from None
    finally:
        os.close(sfd)
