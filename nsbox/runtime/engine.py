"""The engine's entry for an OCI spec: a container directory + a Spec -> Created.

Every front end ends here: ``nsbox run`` and ``nsbox.run`` after building the
spec from their options (runtime/run.py prepare), nsbox-runc with a bundle's
config.json (runc/engine.py), so all of them get the same plan, launch, exec
fifo and security preparation.  Nothing is forked yet; runtime/create.py
create() does that.
"""

from __future__ import annotations

import os

from ..spec import model
from .create import Created

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..cgroups.detect import Layout
    from . import state as S


def prepare(c: S.Container, spec: model.Spec, seccomp_cache: str, *, rootless: bool,
            owner: tuple[int, int] | None = None, die_with_parent: bool = True,
            cgroup: bool = False) -> Created:
    """The plan (spec -> ordered steps), the exec fifo init waits on, the Launch
    the stages read, the security programs (capability masks, seccomp BPF,
    Landlock, sysctls) checked and built before any fork.  ``owner``: the host
    ids of a user-namespaced root, which must open the fifo to start; ``cgroup``:
    the caller gives the container a cgroup of its choosing (nsbox-runc's
    default path) even without linux.cgroupsPath."""
    from ..kernel.fs import O_PATH
    from .launch import Launch
    from .plan import make_plan
    from .security import prepare as prepare_security

    linux = spec.linux or model.Linux()
    new_userns = any(n.type == "user" and not n.path for n in linux.namespaces)
    cgroup_ns = linux.namespace("cgroup") is not None
    plan = make_plan(spec, new_userns=new_userns, rootless=rootless, cgroup_ns=cgroup_ns)
    os.mkfifo(c.fifo, 0o622)
    os.chmod(c.fifo, 0o622)  # (umask): the container's user, whoever it is, opens it to start
    if owner is not None:
        os.chown(c.fifo, owner[0], owner[1])
    fifo_fd = os.open(c.fifo, O_PATH | os.O_CLOEXEC)
    try:
        launch = Launch(spec, plan, fifo_fd=fifo_fd, rootless=rootless, die_with_parent=die_with_parent,
                        layout=_layout(linux, cgroup_ns, cgroup))
        prepare_security(launch, seccomp_cache)
    except BaseException:
        os.close(fifo_fd)
        raise
    created = Created(c, launch)
    created.undo.push("close the exec fifo", lambda: os.close(fifo_fd))
    return created


def _layout(linux: model.Linux, cgroup_ns: bool, cgroup: bool) -> Layout | None:
    """The cgroup hierarchies, when the container has a cgroup or a cgroup namespace."""
    if not linux.cgroups_path and not cgroup_ns and not cgroup:
        return None
    from ..cgroups.detect import detect

    layout = detect()
    layout.cgroupns = cgroup_ns  # without one /sys/fs/cgroup binds the container's own cgroup (cgroupfs.py)
    return layout
