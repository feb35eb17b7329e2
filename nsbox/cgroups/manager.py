"""Create, join, kill and remove one container's cgroup in every hierarchy.

Resource limits are written by the per-version drivers (v1.py, v2.py); this
module only owns the directories and the membership.  Errors name the file and
the value, as youki's WrappedIoError does: "write `1234` to `/sys/fs/cgroup/pids/nsbox/x/cgroup.procs`: ...".
"""

from __future__ import annotations

import _signal as signal
import errno
import os
import time

from ..kernel.errors import KernelError
from .detect import Hierarchy, Layout, detect

DEFAULT_PARENT = "/nsbox"
V2_CONTROLLERS = ("cpuset", "cpu", "io", "memory", "pids", "hugetlb", "misc")


def write_file(path: str, value: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(e.errno or 0, f"open `{path}`", path) from None
    try:
        os.write(fd, value.encode())
    except OSError as e:
        raise KernelError(e.errno or 0, f"write `{value}` to `{path}`", path) from None
    finally:
        os.close(fd)


def read_file(path: str) -> str:
    with open(path) as f:
        return f.read()


class Cgroup:
    """A container's cgroup: ``path`` (e.g. /nsbox/<id>) in each hierarchy of ``layout``."""

    def __init__(self, path: str, layout: Layout | None = None) -> None:
        if not path.startswith("/"):
            raise ValueError(f"cgroup path `{path}` must be absolute")
        self.path = os.path.normpath(path)
        if "process_api" in self.path.split("/"):
            # the sandbox's own cgroup tree: never create, join, kill or remove anything there
            raise ValueError(f"cgroup path `{path}`: refusing to touch the `process_api` tree")
        self.layout = layout or detect()

    def dir(self, h: Hierarchy) -> str:
        return h.mountpoint + self.path

    @property
    def dirs(self) -> list[str]:
        return [self.dir(h) for h in self.layout.hierarchies]

    def hierarchy(self, controller: str) -> Hierarchy | None:
        return self.layout.controller(controller)

    # -- lifecycle -----------------------------------------------------------
    def create(self) -> None:
        """mkdir the cgroup in every hierarchy (parents too); idempotent."""
        for h in self.layout.hierarchies:
            for attempt in range(20):
                try:
                    self._mkdirs(h)
                    break
                except OSError as e:
                    # the last container of the shared parent removed it meanwhile
                    # (_remove_empty_parents): make it again
                    if e.errno != errno.ENOENT or attempt == 19:
                        raise

    def _mkdirs(self, h: Hierarchy) -> None:
        parts = [p for p in self.path.split("/") if p]
        cur = h.mountpoint
        for _i, part in enumerate(parts):
            parent = cur
            cur = f"{cur}/{part}"
            if h.version == 2:
                self._enable_v2(parent, h)
            try:
                os.mkdir(cur, 0o755)
            except FileExistsError:
                pass  # made by a concurrent nsbox, which may not have set its cpuset yet
            except OSError as e:
                raise KernelError(e.errno or 0, f"create cgroup directory `{cur}`", cur) from None
            if h.version == 1 and "cpuset" in h.controllers:
                self._init_cpuset(parent, cur)  # idempotent: only an empty cpus/mems is set

    def _enable_v2(self, parent: str, h: Hierarchy) -> None:
        try:
            have = read_file(f"{parent}/cgroup.controllers").split()
            on = read_file(f"{parent}/cgroup.subtree_control").split()
        except OSError:
            return
        want = [c for c in V2_CONTROLLERS if c in have and c not in on]
        if want:
            try:
                write_file(f"{parent}/cgroup.subtree_control", " ".join("+" + c for c in want))
            except KernelError:
                # not fatal: a controller busy at the root (processes in it) stays off
                for c in want:
                    try:
                        write_file(f"{parent}/cgroup.subtree_control", "+" + c)
                    except KernelError:
                        pass

    @staticmethod
    def _init_cpuset(parent: str, child: str) -> None:
        # A v1 cpuset starts with empty cpus/mems and refuses tasks until set.
        for f in ("cpuset.cpus", "cpuset.mems"):
            try:
                if not read_file(f"{child}/{f}").strip():
                    write_file(f"{child}/{f}", read_file(f"{parent}/{f}").strip() or "0")
            except OSError:
                pass

    def add(self, pid: int, hierarchies: list[Hierarchy] | None = None) -> None:
        for h in self.layout.hierarchies if hierarchies is None else hierarchies:
            write_file(f"{self.dir(h)}/cgroup.procs", str(pid))

    def self_join_files(self) -> tuple[list[str], list[Hierarchy]]:
        """(v1 ``tasks`` files a single-threaded process may move itself with by
        writing "0", the hierarchies someone must join it to with cgroup.procs).

        Moving *oneself* thread by thread does not take cgroup_threadgroup_rwsem,
        so it skips the RCU grace period a cgroup.procs write waits for (~10 ms);
        v2 has no such path for a domain cgroup."""
        v1 = [f"{self.dir(h)}/tasks" for h in self.layout.hierarchies if h.version == 1]
        rest = [h for h in self.layout.hierarchies if h.version != 1]
        return v1, rest

    def procs(self) -> list[int]:
        seen: set[int] = set()
        for d in self.dirs:
            try:
                seen.update(int(x) for x in read_file(f"{d}/cgroup.procs").split())
            except OSError:
                pass
        return sorted(seen)

    def oom_kills(self) -> int:
        """How many processes the OOM killer killed in this cgroup: the ``oom_kill``
        counter of memory.events (v2) or memory.oom_control (v1, Linux >= 4.13).
        Read it before the cgroup is removed."""
        h = self.hierarchy("memory")
        if h is None:
            return 0
        try:
            text = read_file(f"{self.dir(h)}/{'memory.events' if h.version == 2 else 'memory.oom_control'}")
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def kill_all(self, sig: int = signal.SIGKILL, timeout: float = 5.0) -> None:
        """Kill every process in the cgroup and wait until it is empty."""
        u = self.layout.unified()
        if u is not None and os.path.exists(f"{self.dir(u)}/cgroup.kill") and sig == signal.SIGKILL:
            try:
                write_file(f"{self.dir(u)}/cgroup.kill", "1")
            except KernelError:
                pass
        freezer = self.hierarchy("freezer")
        deadline = time.monotonic() + timeout
        while True:
            pids = self.procs()
            if not pids:
                return
            frozen = False
            if freezer is not None and freezer.version == 1:
                frozen = self._freeze(freezer, True)
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            if frozen:
                self._freeze(freezer, False)
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)

    def _freeze(self, h: Hierarchy, on: bool) -> bool:
        try:
            write_file(f"{self.dir(h)}/freezer.state", "FROZEN" if on else "THAWED")
            return True
        except OSError:
            return False

    def destroy(self, timeout: float = 5.0) -> None:
        """rmdir the cgroup everywhere, then the nsbox parent if it is now empty."""
        errors: list[str] = []
        for d in self.dirs:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno == errno.EBUSY and time.monotonic() < deadline:
                        time.sleep(0.005)
                        continue
                    errors.append(f"remove cgroup `{d}`: {e.strerror}")
                    break
        self._remove_empty_parents()
        if errors:
            raise KernelError(errno.EBUSY, "; ".join(errors))

    def _remove_empty_parents(self) -> None:
        # Only nsbox's own parent (/nsbox, a delegated .../nsbox, $NSBOX_CGROUP_PARENT
        # named nsbox-*): a --cgroup-parent the user made stays, as with Docker.
        parent = os.path.dirname(self.path)
        if parent in ("/", "") or not os.path.basename(parent).startswith("nsbox"):
            return
        for h in self.layout.hierarchies:
            try:
                os.rmdir(h.mountpoint + parent)
            except OSError:
                pass  # in use by another container (EBUSY/ENOTEMPTY), or gone


def release(record: dict) -> None:
    """GC entry point: kill what is left in a recorded cgroup and remove it."""
    cg = Cgroup(record["path"])
    cg.kill_all()
    cg.destroy()
