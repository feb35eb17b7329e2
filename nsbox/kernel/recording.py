"""RecordingKernel: the executor's Kernel for unit tests (youki's TestHelperSyscall).

It records every call as ``(name, args)`` with container paths (targets opened
with open_in_root are reported by the path they were opened for), and can be
told to fail a call with an errno: ``k.fail("mount", errno.EPERM, match="/proc")``.
"""

from __future__ import annotations

from .errors import KernelError


class RecordingKernel:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self._paths: dict[int, str] = {}
        self._next = 100
        self._failures: list[tuple[str, int, str | None]] = []
        self.dirs: set[int] = set()
        self.flags: dict[str, int] = {}

    def fail(self, name: str, errno: int, match: str | None = None) -> None:
        self._failures.append((name, errno, match))

    def _maybe_fail(self, name: str, *args: object) -> None:
        for i, (n, err, match) in enumerate(self._failures):
            if n == name and (match is None or any(match == str(a) for a in args)):
                del self._failures[i]
                raise KernelError(err, f"{name} {' '.join(str(a) for a in args)}")

    def _path(self, p: str | None) -> str | None:
        if p and p.startswith("/proc/self/fd/"):
            return self._paths.get(int(p.rsplit("/", 1)[1]), p)
        return p

    def _record(self, name: str, *args: object) -> None:
        self._maybe_fail(name, *args)
        self.calls.append((name, args))

    def _maybe_fail_mount(self, src, dst, fstype, flags, label) -> None:  # noqa: ANN001
        """An injected mount failure raises what the real wrapper raises (kernel/mount.py)."""
        try:
            self._maybe_fail("mount", self._path(src), label or self._path(dst), fstype, flags)
        except KernelError as e:
            from .mount import mount_op

            raise KernelError(e.errno or 0, mount_op(self._path(src), dst, fstype, flags, label), dst) from None

    # -- the Kernel interface (see kernel/linux.py) --------------------------
    def mount(self, src, dst, fstype, flags=0, data=None, label=None) -> None:
        self._maybe_fail_mount(src, dst, fstype, flags, label)
        self.calls.append(("mount", (self._path(src), label or self._path(dst), fstype, flags, data or None)))

    def umount(self, target, flags=0, label=None) -> None:
        self._record("umount", label or target, flags)

    def pivot_root(self, new_root, put_old) -> None:
        self._record("pivot_root", new_root, put_old)

    def _fd(self, path: str) -> int:
        self._next += 1
        self._paths[self._next] = path
        return self._next

    def open_in_root(self, root_fd, path, create=None) -> int:
        self._record("open_in_root", path, create)
        return self._fd(path)

    def open_path(self, path, label=None) -> int:
        self._record("open_path", label or path)
        return self._fd(label or path)

    def close(self, fd) -> None:
        self._paths.pop(fd, None)

    def fchdir(self, fd, label) -> None:
        self._record("fchdir", label)

    def chdir(self, path) -> None:
        self._record("chdir", path)

    def mknod(self, parent_fd, name, mode, dev, label) -> None:
        self._record("mknod", label, mode, dev)

    def chown(self, path, uid, gid, label) -> None:
        self._record("chown", label, uid, gid)

    def symlink(self, target, parent_fd, name, label) -> None:
        self._record("symlink", target, label)

    def mount_flags(self, path) -> int:
        return self.flags.get(self._path(path) or path, 0)

    def mount_setattr(self, fd, attr_set, recursive, label) -> None:
        self._record("mount_setattr", label, attr_set, recursive)

    def is_dir(self, fd) -> bool:
        return fd in self.dirs

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def mounts(self) -> list[tuple]:
        return [c[1] for c in self.calls if c[0] == "mount"]
