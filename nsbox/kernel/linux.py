"""The Kernel the executor calls: LinuxKernel runs real system calls.

The executor (nsbox.runtime.rootfs) only talks to this interface, so unit tests
give it a RecordingKernel (nsbox.kernel.recording) instead: youki's Syscall trait.
"""

from __future__ import annotations

import os

from . import fs, mount
from .errors import KernelError


class LinuxKernel:
    def mount(self, src: str | None, dst: str, fstype: str | None, flags: int = 0,
              data: str | None = None, label: str | None = None) -> None:
        mount.mount(src, dst, fstype, flags, data, label)

    def umount(self, target: str, flags: int = 0, label: str | None = None) -> None:
        mount.umount(target, flags, label)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        mount.pivot_root(new_root, put_old)

    def open_in_root(self, root_fd: int, path: str, create: str | None = None) -> int:
        return fs.open_in_root(root_fd, path, create)

    def open_path(self, path: str, label: str | None = None) -> int:
        try:
            return os.open(path, fs.O_PATH | os.O_CLOEXEC)
        except OSError as e:
            raise KernelError(e.errno or 0, f"open `{label or path}`", label or path) from None

    def close(self, fd: int) -> None:
        os.close(fd)

    def fchdir(self, fd: int, label: str) -> None:
        try:
            os.fchdir(fd)
        except OSError as e:
            raise KernelError(e.errno or 0, f"chdir `{label}`", label) from None

    def chdir(self, path: str) -> None:
        try:
            os.chdir(path)
        except OSError as e:
            raise KernelError(e.errno or 0, f"chdir `{path}`", path) from None

    def mknod(self, parent_fd: int, name: str, mode: int, dev: int, label: str) -> None:
        # mknod(2) applies the umask: the spec's mode is exact (/dev/null is 0666, writable
        # by a non-root user), so none during the call, as runc's createDevices does
        old = os.umask(0)
        try:
            os.mknod(name, mode, dev, dir_fd=parent_fd)
        except FileExistsError:
            pass
        except OSError as e:
            raise KernelError(e.errno or 0, f"mknod `{label}`", label) from None
        finally:
            os.umask(old)

    def chown(self, path: str, uid: int, gid: int, label: str) -> None:
        try:
            os.chown(path, uid, gid)
        except OSError as e:
            raise KernelError(e.errno or 0, f"chown `{label}` to {uid}:{gid}", label) from None

    def symlink(self, target: str, parent_fd: int, name: str, label: str) -> None:
        try:
            os.symlink(target, name, dir_fd=parent_fd)
        except FileExistsError:
            pass
        except OSError as e:
            raise KernelError(e.errno or 0, f"symlink `{label}` -> `{target}`", label) from None

    def mount_flags(self, path: str) -> int:
        """The MS_* flags a bind remount must keep (locked in a user namespace)."""
        st = os.statvfs(path)
        f = st.f_flag
        out = f & (mount.MS_RDONLY | mount.MS_NOSUID | mount.MS_NODEV | mount.MS_NOEXEC)
        if f & os.ST_NOATIME:
            out |= mount.MS_NOATIME
        if f & os.ST_NODIRATIME:
            out |= mount.MS_NODIRATIME
        if f & os.ST_RELATIME:
            out |= mount.MS_RELATIME
        return out

    def mount_setattr(self, fd: int, attr_set: int, recursive: bool, label: str) -> None:
        fs.mount_setattr(fd, "", attr_set, 0, recursive, label)

    def is_dir(self, fd: int) -> bool:
        import stat

        return stat.S_ISDIR(os.fstat(fd).st_mode)
