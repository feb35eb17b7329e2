"""What the v1 and v2 drivers share: where a controller's files are, how a limit is
written, and how a limit that this machine cannot apply is reported.

A driver never decides whether an unappliable limit is fatal: it returns a
:class:`Skipped` (the limit, and why), and :mod:`nsbox.cgroups.apply` warns or,
with ``--strict-limits``, fails.  A value the kernel refuses (EINVAL, ERANGE...)
is always an error, named like youki's WrappedIoError:
"write `abc` to `/sys/fs/cgroup/pids/nsbox/x/pids.max`: Invalid argument".
"""

from __future__ import annotations

import errno
import os

from ..kernel.errors import KernelError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# Errors that mean "this machine or user cannot do it", not "the value is wrong".
UNAVAILABLE = (errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EOPNOTSUPP)


class Skipped:
    """A limit that cannot be applied here: ``limit`` is its OCI path (``memory.swap``)."""

    __slots__ = ("limit", "reason")

    def __init__(self, limit: str, reason: str) -> None:
        self.limit = limit
        self.reason = reason

    def __repr__(self) -> str:
        return f"Skipped({self.limit!r}, {self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Skipped) and (self.limit, self.reason) == (other.limit, other.reason)

    def __hash__(self) -> int:
        return hash((self.limit, self.reason))


class Target:
    """One container's cgroup as a driver sees it: controller -> directory.

    ``dirs`` is one directory holding every controller's files (cgroup v2, or
    a test fixture) or a mapping controller -> directory (cgroup v1)."""

    def __init__(self, dirs: str | Mapping[str, str], version: int) -> None:
        self.dirs = dirs
        self.version = version
        self.skipped: list[Skipped] = []

    def dir(self, controller: str) -> str | None:
        if isinstance(self.dirs, str):
            return self.dirs
        return self.dirs.get(controller)

    def skip(self, limit: str, reason: str) -> None:
        self.skipped.append(Skipped(limit, reason))

    def has(self, controller: str, file: str) -> bool:
        d = self.dir(controller)
        return d is not None and os.path.exists(f"{d}/{file}")

    def read(self, controller: str, file: str) -> str | None:
        d = self.dir(controller)
        if d is None:
            return None
        try:
            with open(f"{d}/{file}") as f:
                return f.read().strip()
        except OSError:
            return None

    def write(self, controller: str, file: str, value: object, limit: str) -> bool:
        """Write ``value`` to the controller's ``file``; False (and a Skipped) when
        this machine cannot (no such controller or file, no permission)."""
        d = self.dir(controller)
        if d is None:
            kind = "cgroup v2 controller" if self.version == 2 else "cgroup hierarchy"
            self.skip(limit, f"no `{controller}` {kind} is available")
            return False
        path = f"{d}/{file}"
        text = str(value)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)  # TRUNC as runc (for plain files)
        except OSError as e:
            if e.errno in UNAVAILABLE:
                self.skip(limit, _why_missing(path, e, controller, self.version))
                return False
            raise KernelError(e.errno or 0, f"open `{path}`", path) from None
        try:
            os.write(fd, text.encode())
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EPERM, errno.EOPNOTSUPP):
                self.skip(limit, f"write `{text}` to `{path}`: {e.strerror}")
                return False
            raise KernelError(e.errno or 0, f"write `{text}` to `{path}`", path) from None
        finally:
            os.close(fd)
        return True


def write_value(path: str, value: str) -> None:
    """Write one cgroup file; any failure is an error naming the value and the file."""
    from .manager import write_file

    write_file(path, value)


def _why_missing(path: str, e: OSError, controller: str, version: int) -> str:
    if e.errno != errno.ENOENT:
        return f"open `{path}`: {e.strerror}"
    d, name = os.path.split(path)
    if version == 2:
        try:
            with open(f"{d}/cgroup.controllers") as f:
                enabled = f.read().split()
        except OSError:
            enabled = None
        if enabled is not None and controller not in enabled:
            return (f"the `{controller}` controller is not enabled for `{d}` (its parent's "
                    "cgroup.subtree_control lacks it: not delegated to us, or not available)")
    return f"this kernel has no `{name}` in the {controller} cgroup"


def cgroup_dirs(layout, path: str) -> dict[str, str]:
    """controller -> directory of ``path`` in its v1 hierarchy (hybrid: v1 controllers only)."""
    out: dict[str, str] = {}
    for h in layout.hierarchies:
        if h.version == 1:
            for c in h.controllers:
                out[c] = h.mountpoint + path
    return out


def rdma(t: Target, r: dict[str, Any]) -> None:
    """rdma.max: the same file and format on cgroup v1 and v2."""
    for dev, lim in r.items():
        parts = [dev]
        if lim.get("hcaHandles") is not None:
            parts.append(f"hca_handle={lim['hcaHandles']}")
        if lim.get("hcaObjects") is not None:
            parts.append(f"hca_object={lim['hcaObjects']}")
        t.write("rdma", "rdma.max", " ".join(parts), f"rdma.{dev}")
