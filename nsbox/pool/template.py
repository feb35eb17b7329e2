"""The sandbox every run of a pool gets, built once by the server.

The same path as ``nsbox run``: RunOptions -> nsbox.specgen.builder.build ->
runtime.plan.make_plan -> runtime.launch.Launch, with the capability masks,
Landlock rules and seccomp BPF prepared (runtime.security.prepare, the cached
filter).  The root's writable layer lives under ``dir``, where each sandbox
mounts a fresh tmpfs first (child.fresh_layer).
"""

from __future__ import annotations

import os

from ..spec import model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..cgroups.detect import Layout
    from ..runtime.launch import Launch
    from ..specgen.options import RunOptions


class Template:
    def __init__(self, spec: model.Spec, launch: Launch, rootfs: str | None, sandbox_dir: str,
                 rootless: bool, layer: list[tuple[str, str, int, str | bytes]]) -> None:
        self.spec = spec              # the built spec (with the user namespace, if any)
        self.launch = launch          # for the sandboxes: no user namespace (the server's is theirs)
        self.rootfs = rootfs          # image.rootfs.prepare's input (None: the embedded default)
        self.dir = sandbox_dir
        self.rootless = rootless
        self.layer = layer            # what each sandbox lays out on its fresh tmpfs (recipe())
        self.early_seccomp = False  # the filter loaded while the sandbox waits (see early_seccomp)

    @property
    def resources(self) -> dict:
        return (self.spec.linux or model.Linux()).resources or {}

    @property
    def uid_ranges(self) -> list[tuple[int, int, int]]:
        return [(m.container_id, m.host_id, m.size) for m in (self.spec.linux or model.Linux()).uid_mappings]

    @property
    def gid_ranges(self) -> list[tuple[int, int, int]]:
        return [(m.container_id, m.host_id, m.size) for m in (self.spec.linux or model.Linux()).gid_mappings]


def unpack_once(rootfs: str | None, pool_dir: str) -> str | None:
    """A tarball root is unpacked once, then used as a directory (an overlay lower)."""
    if rootfs is None or not os.path.isfile(rootfs):
        return rootfs
    from ..image.rootfs import check_root_dir
    from ..image.unpack import unpack

    dest = f"{pool_dir}/image"
    os.mkdir(dest, 0o755)
    unpack(rootfs, dest)
    check_root_dir(dest, rootfs)
    return dest


def build(opts: RunOptions, *, pool_id: str, pool_dir: str, state_root: str, layout: Layout | None) -> Template:
    """Spec, plan and launch of the pool's sandboxes (in the caller's identity:
    before the server enters its user namespace, the builder sees who we are)."""
    from ..image.rootfs import prepare
    from ..net.spec import write_files
    from ..runtime.launch import Launch
    from ..runtime.plan import make_plan
    from ..runtime.security import prepare as prepare_security
    from ..specgen.builder import Host
    from ..specgen.builder import build as build_spec

    host = Host()
    rootfs = unpack_once(opts.rootfs, pool_dir)
    if rootfs is not None:
        opts = opts.replace(rootfs=os.path.abspath(rootfs))
    sandbox_dir = f"{pool_dir}/sandbox"
    os.mkdir(sandbox_dir, 0o700)
    # The paths the spec names, made once here (each sandbox remakes them on its tmpfs).
    if opts.image:  # the image's layers as overlay lowers, its config as the template's defaults
        from ..image.use import prepare as prepare_image

        opts, inp, _fields = prepare_image(opts, sandbox_dir, None)
    else:
        inp = prepare(opts.rootfs, sandbox_dir)
    spec = build_spec(opts, cid=pool_id, rootfs=inp, host=host, state_dir=sandbox_dir)
    write_files(spec, sandbox_dir)
    linux = spec.linux or model.Linux()
    new_userns = any(n.type == "user" and not n.path for n in linux.namespaces)
    plan = make_plan(spec, new_userns=new_userns, rootless=host.rootless, cgroup_ns=True)
    # The sandboxes are cloned inside the server's user namespace: theirs.
    child_spec = spec.replace(linux=linux.replace(
        namespaces=tuple(n for n in linux.namespaces if n.type != "user")))
    launch = Launch(child_spec, plan, fifo_fd=-1, rootless=host.rootless, layout=layout)
    launch.cgroup_parent_join = False  # the sandbox joins its cgroups itself (clone3, v1 tasks)
    prepare_security(launch, f"{state_root}/seccomp")
    from ..runtime.privileges import prepared

    t = Template(spec, launch, rootfs, sandbox_dir, host.rootless, recipe(sandbox_dir))
    t.early_seccomp = early_seccomp(opts, launch, prepared(launch))
    return t


def early_seccomp(opts: RunOptions, launch: Launch, prepared) -> bool:
    """May the sandbox load its filter before it waits for its run?  Only
    Docker's default profile (a user's may refuse what the wait and the exec
    lookup call), with no_new_privs, and without Landlock (applied before it)."""
    from ..specgen.privileges import parse_security_opts

    return (prepared is not None and prepared.seccomp is not None and not prepared.landlock
            and launch.process.no_new_privileges and parse_security_opts(opts.security_opt).seccomp is None
            and not opts.privileged)


def clone_flags(launch: Launch) -> int:
    """The namespaces a sandbox is cloned into (the cgroup one, when it has a
    cgroup to join first, is unshared by the sandbox: runtime.init.CgroupBarrier)."""
    return launch.unshare_flags


def recipe(top: str) -> list[tuple[str, str, int, str | bytes]]:
    """The writable layer's skeleton as image.rootfs.prepare and net.spec.write_files
    made it under ``top`` (root, upper and work directories, the embedded root's
    symlinks, /etc/hostname, hosts, resolv.conf and their overlay placeholders):
    (kind, path below top, mode, symlink target or file content), parents first.
    Each sandbox replays it on its fresh tmpfs (child.fresh_layer)."""
    out: list[tuple[str, str, int, str | bytes]] = []

    def walk(rel: str) -> None:
        for entry in sorted(os.scandir(f"{top}/{rel}" if rel else top), key=lambda e: e.name):
            path = f"{rel}/{entry.name}" if rel else entry.name
            st = entry.stat(follow_symlinks=False)
            if entry.is_symlink():
                out.append(("symlink", path, 0, os.readlink(entry.path)))
            elif entry.is_dir(follow_symlinks=False):
                out.append(("dir", path, st.st_mode & 0o7777, ""))
                walk(path)
            elif entry.is_file(follow_symlinks=False) and st.st_size <= 65536:
                with open(entry.path, "rb") as f:
                    out.append(("file", path, st.st_mode & 0o7777, f.read()))
    walk("")
    return out
