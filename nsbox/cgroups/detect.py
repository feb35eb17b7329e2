"""Which cgroup layout this machine has, from mountinfo.

- ``v2``: /sys/fs/cgroup is cgroup2 (what most machines run now);
- ``v1``: one mount per hierarchy under /sys/fs/cgroup (a cgroup2 mount
  next to them, as at /sys/fs/cgroup/unified, makes it "hybrid": nsbox treats
  it as one more hierarchy holding whatever controllers it has).
"""

from __future__ import annotations

from ..procfs import mountinfo

V1_FLAGS = {"rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "xattr", "clone_children",
            "noprefix", "cpuset_v2_mode", "favordynmods", "nsdelegate", "memory_recursiveprot",
            "memory_localevents", "memory_hugetlb_accounting"}


class Hierarchy:
    """One mounted cgroup hierarchy: where it is and what it controls."""

    __slots__ = ("mountpoint", "controllers", "version", "name", "root")

    def __init__(self, mountpoint: str, controllers: tuple[str, ...], version: int, name: str = "",
                 root: str = "/") -> None:
        self.mountpoint = mountpoint
        self.controllers = controllers
        self.version = version
        self.name = name
        self.root = root  # the mount's root inside the hierarchy (not "/" inside a cgroup ns)

    def __repr__(self) -> str:
        return f"Hierarchy({self.mountpoint!r}, {self.controllers!r}, v{self.version})"

    @property
    def key(self) -> str:
        """The name /proc/PID/cgroup uses: 'memory', 'cpu,cpuacct', 'name=systemd', ''."""
        if self.version == 2:
            return ""
        return ",".join(self.controllers + ((f"name={self.name}",) if self.name else ()))


class Layout:
    def __init__(self, hierarchies: list[Hierarchy], caller: dict[str, str] | None = None) -> None:
        self.hierarchies = hierarchies
        # /proc/self/cgroup of the detecting process: hierarchy key -> cgroup path
        self.caller = caller or {}
        # the container's own cgroup path once created (set by runtime/create.py)
        self.container: str | None = None

    def own_path(self, h: Hierarchy) -> str | None:
        """The container's cgroup in ``h`` as a path below h's mount point: its own
        cgroup if it has one, else the one it inherits from the caller."""
        path = self.container
        if path is None:
            want = set(h.key.split(",")) if h.key else set()
            path = next((p for k, p in self.caller.items() if (set(k.split(",")) if k else set()) == want), None)
        if path is None:
            return None
        root = h.root.rstrip("/")
        if root and path.startswith(root + "/"):
            path = path[len(root):]
        return path

    @property
    def mode(self) -> str:
        if any(h.version == 2 and h.mountpoint.rstrip("/").endswith("/cgroup") for h in self.hierarchies) \
                and not any(h.version == 1 for h in self.hierarchies):
            return "v2"
        if any(h.version == 1 for h in self.hierarchies):
            return "hybrid" if any(h.version == 2 for h in self.hierarchies) else "v1"
        return "v2" if self.hierarchies else "none"

    def unified(self) -> Hierarchy | None:
        for h in self.hierarchies:
            if h.version == 2:
                return h
        return None

    def controller(self, name: str) -> Hierarchy | None:
        """The hierarchy that owns controller ``name`` (v1 first, then v2)."""
        for h in self.hierarchies:
            if h.version == 1 and name in h.controllers:
                return h
        u = self.unified()
        if u is not None and name in v2_controllers(u.mountpoint):
            return u
        return None


def v2_controllers(mountpoint: str) -> tuple[str, ...]:
    try:
        with open(f"{mountpoint}/cgroup.controllers") as f:
            return tuple(f.read().split())
    except OSError:
        return ()


def detect(proc: str = "/proc") -> Layout:
    seen: set[str] = set()
    hs: list[Hierarchy] = []
    for m in mountinfo("self", proc):
        if m.fstype == "cgroup2":
            if "cgroup2" in seen:
                continue
            seen.add("cgroup2")
            hs.append(Hierarchy(m.mountpoint, v2_controllers(m.mountpoint), 2, root=m.root))
        elif m.fstype == "cgroup":
            opts = m.super_options.split(",")
            ctrls = tuple(o for o in opts if o not in V1_FLAGS and not o.startswith("name=")
                          and "=" not in o)
            name = next((o[5:] for o in opts if o.startswith("name=")), "")
            key = ",".join(ctrls) + name
            if key in seen:
                continue
            seen.add(key)
            hs.append(Hierarchy(m.mountpoint, ctrls, 1, name, m.root))
    return Layout(hs, own_cgroups(proc))


def own_cgroups(proc: str = "/proc", pid: str = "self") -> dict[str, str]:
    """/proc/PID/cgroup as hierarchy key ('memory', 'cpu,cpuacct', 'name=systemd', '') -> path."""
    out: dict[str, str] = {}
    try:
        with open(f"{proc}/{pid}/cgroup") as f:
            for line in f:
                _hid, _, rest = line.rstrip("\n").partition(":")
                key, _, path = rest.partition(":")
                out[key] = path
    except OSError:
        pass
    return out
