"""The engine's entry point for a loaded Spec: make the container, leave it created.

The bundle's spec goes to the engine's own entry (runtime/engine.py prepare, the
one ``nsbox run`` ends in too): state directory (owner.lock held) -> launch plan
-> security -> ``create`` (cgroup recorded before it exists, the stages forked, init
waiting on the exec fifo).  Nothing here prints or exits.

The container outlives us: init is not killed with its parent
(``die_with_parent=False``) and is reparented to our caller's subreaper
(conmon, a containerd shim) when ``create`` returns.  Every resource is in
state.json before it exists, so ``delete --force`` undoes a create that was
SIGKILLed at any point (the cgroup's release kills what runs in it).
"""

from __future__ import annotations

import os

from ..runtime import state as S
from ..spec import model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime.create import Created


class CreateOptions:
    def __init__(self, bundle: str, preserve_fds: int = 0, hooks_state=None) -> None:
        self.bundle = bundle
        self.preserve_fds = preserve_fds
        self.before_start = hooks_state  # callable(created): the create-time hooks


def cgroup_path(spec: model.Spec, cid: str, rootless: bool) -> str | None:
    """linux.cgroupsPath as an absolute cgroupfs path; a relative one is taken
    from the root of each hierarchy (config-linux.md lets the runtime choose),
    no path gives ``/nsbox-runc/<id>``.  Rootless: only a path we can write."""
    linux = spec.linux or model.Linux()
    path = linux.cgroups_path
    if path is None:
        path = f"/nsbox-runc/{cid}"
    elif not path.startswith("/"):
        path = "/" + path
    if rootless:
        from ..cgroups.detect import detect

        layout = detect()
        if not all(os.access(os.path.dirname(h.mountpoint + path) or "/", os.W_OK)
                   for h in layout.hierarchies):
            return None
    return path


def create(store: S.Store, cid: str, spec: model.Spec, opts: CreateOptions) -> Created:
    """A created container (init waiting before execve); raises with nothing left on failure."""
    from ..runtime.create import create as create_stages
    from ..runtime.run import abandon
    from .store import rootless as is_rootless

    path = cgroup_path(spec, cid, is_rootless())
    if path is not None:
        refuse_used_cgroup(path)  # before anything is made (or recorded: its release kills)
    created = prepare(store, cid, spec, opts)
    before_start = opts.before_start
    if before_start is not None and created.launch.plan.setup_rootfs:
        # the create hooks run while init waits before pivot_root (config.md), else once it is ready
        created.launch.pause_before_pivot = True
        created.before_pivot, before_start = before_start, None
    try:
        create_stages(created, path, before_start=before_start, persist_created=True)
    except BaseException:
        abandon(created)
        raise
    return created


def refuse_used_cgroup(path: str) -> None:
    """runc's refusals: a cgroup that already holds processes (another container's:
    ours would share its limits, and deleting ours would kill them), or a frozen one."""
    from ..cgroups.manager import Cgroup
    from ..errors import Conflict
    from .freezer import is_frozen

    pids = Cgroup(path).procs()
    if pids:
        raise Conflict(f"create: cgroup `{path}` is not empty: {len(pids)} process(es) found")
    if is_frozen(path):
        raise Conflict(f"create: cgroup `{path}` is frozen")


def prepare(store: S.Store, cid: str, spec: model.Spec, opts: CreateOptions) -> Created:
    from .. import jsonio
    from ..runtime.engine import prepare as prepare_engine
    from .store import rootless as is_rootless

    rootless = is_rootless()
    c = store.new(cid)
    try:
        c.init_state(persist=True, bundle=opts.bundle, annotations=dict(spec.annotations),
                     rootfs=spec.root.path if spec.root else "", rootless=rootless,
                     ownerName=_user_name())
        jsonio.write_atomic(f"{c.path}/config.json", spec.to_json())  # what exec reads
        # init is not killed with us: the container outlives nsbox-runc create
        created = prepare_engine(c, spec, f"{store.root}/seccomp", rootless=rootless, die_with_parent=False,
                                 cgroup=True)
        created.launch.register_netns = False  # the caller names network namespaces, not us
        created.launch.preserve_fds = opts.preserve_fds
        plan = created.launch.plan
        if any(step.idmap is not None for step in plan.mounts):
            from ..runtime.idmap import prepare as prepare_idmaps

            prepare_idmaps(plan, spec.linux or model.Linux(), rootless, created.undo)
        return created
    except BaseException:
        c.release_ownership()
        c.remove_dir()
        raise


def _user_name() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (KeyError, ImportError):
        return str(os.geteuid())
