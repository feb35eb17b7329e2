"""Launch: everything the child stages need, computed by the parent before fork.

The children are forks of the parent, so they read these objects directly; only
results and errors travel back over the socket (sync.py).
"""

from __future__ import annotations

from ..kernel.ns import JOIN_ORDER, KINDS
from ..spec import model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..cgroups.detect import Layout
    from .plan import Plan


class Launch:
    def __init__(self, spec: model.Spec, plan: Plan, *, fifo_fd: int, rootless: bool,
                 die_with_parent: bool = True, layout: Layout | None = None) -> None:
        self.spec = spec
        self.plan = plan
        self.process = spec.process or model.Process()
        self.linux = spec.linux or model.Linux()
        self.fifo_fd = fifo_fd
        self.rootless = rootless
        self.die_with_parent = die_with_parent
        self.layout = layout
        self.parent_pid = 0
        # namespaces: joined by path (in JOIN_ORDER) or created (one unshare)
        self.join: list[tuple[str, str]] = []
        self.new: set[str] = set()
        kinds = {ns.type: ns for ns in self.linux.namespaces}
        for kind in JOIN_ORDER:
            ns = kinds.get(kind)
            if ns is None:
                continue
            if ns.path:
                self.join.append((kind, ns.path))
            else:
                self.new.add(kind)
        self.new_userns = "user" in self.new
        # With a cgroup to join, the parent moves init into it while init sets up
        # its root (a cgroup migration waits for an RCU grace period: ~10 ms), and
        # init creates its cgroup namespace once it is in: the namespace's root
        # is the cgroup a process is in when it unshares (cgroup_namespaces(7)).
        self.defer_cgroupns = "cgroup" in self.new and bool(self.linux.cgroups_path)
        self.cgroup_self_join: list[str] = []   # v1 tasks files init writes "0" to (set by create)
        self.cgroup_parent_join = True          # the parent moves init (cgroup.procs) and says so
        self.unshare_flags = 0
        for kind in self.new - {"user"} - ({"cgroup"} if self.defer_cgroupns else set()):
            self.unshare_flags |= KINDS[kind][0]
        # Rootful with nothing to join: the parent unshares the kinds that only
        # take effect for children (PID, time), forks init straight into them and
        # restores its own; init unshares the rest itself.  One fork, not two.
        self.direct = not self.new_userns and not self.join
        children_only = KINDS["pid"][0] | KINDS["time"][0]
        self.parent_flags = self.unshare_flags & children_only if self.direct else 0
        self.init_flags = self.unshare_flags & ~children_only if self.direct else 0
        self.uid_ranges = [(m.container_id, m.host_id, m.size) for m in self.linux.uid_mappings]
        self.gid_ranges = [(m.container_id, m.host_id, m.size) for m in self.linux.gid_mappings]
        self.allow_setgroups = not rootless or not self.gid_ranges or len(self.gid_ranges) > 1 \
            or self.gid_ranges[0][2] > 1
        offsets = self.linux.time_offsets
        self.time_offsets = "".join(
            f"{clock} {off.secs} {off.nanosecs}\n" for clock, off in offsets.items()) if offsets else ""
        self.init_wrapper = spec.annotations.get(model.ANN_INIT) == "true"
        # Init runs the host's Python until execve: while dumpable, a process that
        # can see it (a joined PID namespace: --pid container:X, debug) and holds
        # no fewer capabilities could open /proc/<init>/exe, the host's interpreter
        # on a writable host mount, and overwrite it once it stops running
        # (CVE-2019-5736), or ptrace it and use its host fds.  So it is
        # non-dumpable (prctl(2) PR_SET_DUMPABLE) until execve resets that, except
        # rootless in a new PID namespace: there nobody else can see it, and an
        # unprivileged parent (pasta, slirp4netns, /proc/PID/ns/*) could not reach
        # a non-dumpable child (ptrace(2) "access mode checking").
        # Rootless with pasta/slirp4netns: the helper, unprivileged, could not open
        # a non-dumpable init's /proc/PID/ns/*, so init sends its network and user
        # namespace fds with "ready" and the helper gets /proc/self/fd/N paths.
        usermode_net = spec.annotations.get("run.nsbox.network", "").partition(":")[0] in (
            "pasta", "slirp4netns")  # net/spec.py ANN_NETWORK
        self.send_ns_fds = rootless and usermode_net
        self.nondumpable = not rootless or "pid" not in self.new
        self.oom_score_set = False  # written by the intermediate before it forks init
        self.register_netns = True  # /run/netns/<name> for a root container's new netns (nsbox-runc: no)
        self.preserve_fds = 0  # fds 3..3+N-1 passed to the process (runc --preserve-fds)
        self.pause_before_pivot = False  # init waits before pivot_root for Created.before_pivot (OCI hooks)
        p, lx = self.process, self.linux  # runtime/procattrs.py applies these before execve
        self.procattrs = any(x is not None for x in (p.scheduler, p.io_priority, p.exec_cpu_affinity,
                                                     lx.personality, lx.memory_policy))
        self.sysctl: list[tuple[str, str, str]] = []  # (key, path, value): security.prepare checks linux.sysctl
        # The container's stdin, stdout, stderr (the API's pipes); None: ours, inherited
        self.stdio: tuple[int, int, int] | None = None

    def use_intermediate(self) -> None:
        """Fork init through an intermediate (which unshares everything itself)
        rather than straight from the parent."""
        self.direct = False
        self.parent_flags = self.init_flags = 0
