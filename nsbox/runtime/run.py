"""A container run in the caller's process: begin -> create -> start -> wait -> finish.

The caller supervises the container: init is its child (CLONE_PARENT, reaped by
pid), it holds owner.lock, and it removes everything when the container exits
(a foreground container leaves nothing behind, like ``runc run``; keep one with
``run -d``).  If it is SIGKILLed, the container dies with it (parent death
signal) and the next nsbox call or command collects the rest (gc.py).  The
stages are functions here; the CLI (signals, the terminal: cli/foreground.py)
and the API (pipes, timeouts: api/run.py) call them in this order:

    created = launch(opts, store, ...)   begin: gc, directory, root, spec, plan;
                                         create_container: cgroup, namespaces, init
                                         waiting on the fifo; start: release it
    code = wait_exit(created.pid)        reap init by pid
    exited(created, code)                the execve error (127/126), if any
    finish(created, code)                stragglers killed, resources released
    (abandon(created) on any failure before finish)
"""

from __future__ import annotations

import os

from ..errors import NsboxError
from ..trace import mark
from . import state as S
from .create import Created, create, start  # noqa: F401 - start: one import for the front ends

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..specgen.options import RunOptions

def new_id() -> str:
    return os.urandom(32).hex()


def root_owner(uid_mappings, gid_mappings) -> tuple[int, int] | None:
    """Host uid/gid of the container's root when it is not the caller (user namespace)."""
    if not uid_mappings:
        return None
    from .userns import ranges, to_host

    uid = to_host(ranges(uid_mappings), 0)
    gid = to_host(ranges(gid_mappings), 0)
    if uid is None or gid is None or (uid == os.geteuid() and gid == os.getegid()):
        return None
    return uid, gid


def prepare(opts: RunOptions, store: S.Store, *, detached: bool, auto_remove: bool,
            cid: str | None = None) -> Created:
    """Make the container directory, its root filesystem, spec and launch plan."""
    from ..image.rootfs import prepare as prepare_rootfs
    from ..specgen.builder import Host, build, id_maps, namespaces

    cid = cid or new_id()
    if opts.name:
        S.valid_id(opts.name, "container name")
    host = Host()
    # The user namespace decides who must own the root's directories.
    userns = namespaces(opts, host)["user"]
    maps = id_maps(opts, host) if userns is not None and not userns.path else None
    owner = root_owner(*maps) if maps else None
    c = store.new(cid, opts.name)
    try:
        c.init_state(persist=False, name=opts.name, detached=detached, autoRemove=auto_remove,
                     rootless=host.rootless, command=list(opts.command))
        if owner is not None:
            _share_path_with(store, c, owner)
        if opts.image:  # an image's layers as overlay lowers; its config fills in the options
            from ..image.use import prepare as prepare_image

            opts, rootfs, image_fields = prepare_image(opts, c.path, owner)
            c.update(command=list(opts.command), **image_fields)
        else:
            rootfs = prepare_rootfs(opts.rootfs, c.path, owner, maps)
        spec = build(opts, cid=cid, rootfs=rootfs, host=host, state_dir=c.path)
        from ..net.spec import write_files

        write_files(spec, c.path, owner)  # /etc/hostname, hosts, resolv.conf bind-mounted from here
        from .engine import prepare as prepare_engine

        created = prepare_engine(c, spec, f"{store.root}/seccomp", rootless=host.rootless, owner=owner)

        def write_config() -> None:
            from .. import jsonio

            jsonio.write_atomic(f"{c.path}/config.json", spec.to_json())

        created.while_init_works.append(write_config)
        return created
    except BaseException:
        c.release_ownership()  # (a caller that lives on, the API, must not keep owner.lock open)
        c.remove_dir()
        raise


def _share_path_with(store: S.Store, c: S.Container, owner: tuple[int, int]) -> None:
    """Let a user-namespaced root (host uid != ours) reach its root directory:
    the parents become traversable (0711, not listable) and the container's own
    directory is 0710 with its group, as Docker does for userns-remap."""
    for d in (store.root, store.containers_dir):
        os.chmod(d, 0o711)
    os.chown(c.path, -1, owner[1])
    os.chmod(c.path, 0o710)


def wait_exit(pid: int) -> int:
    """Wait for the container's init, our child (CLONE_PARENT), by its pid; its
    exit code as ``nsbox run`` reports it (128+N if killed by signal N)."""
    while True:
        try:
            _wpid, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 255
        except InterruptedError:
            continue
        code = os.waitstatus_to_exitcode(status)
        return 128 - code if code < 0 else code


def finish(created: Created, code: int) -> None:
    """After the container's init exited: kill stragglers, release resources, remove."""
    c = created.container
    created.pid = 0  # reaped: never signal that number again
    if created.cgroup is not None:  # before the cgroup (and its counters) is removed
        created.oom_kills = created.cgroup.oom_kills()
        if created.oom_kills and code == 128 + 9:
            created.exit_reason = "oom-killed"
    errors = created.undo.run()
    # The exit status is recorded while we still own the container: `nsbox wait`
    # wakes up when owner.lock is released and must find it.
    c.record_exit_code(code)
    if c.state.get("autoRemove", True):
        c.remove_dir()
    else:
        extra = {"exitReason": created.exit_reason} if created.exit_reason else {}
        c.write(status=S.STOPPED, exitCode=code, finished=S.now(), pid=0, resources=[],
                oomKilled=created.exit_reason == "oom-killed", **extra)
    c.release_ownership()
    if errors:
        raise NsboxError("container exited, but cleanup failed: " + "; ".join(errors))


def abandon(created: Created) -> None:
    """A start-up that failed or was interrupted: undo everything, remove the directory."""
    created.undo.run()
    c = created.container
    c.release_ownership()
    try:
        c.remove_dir()
    except Exception:  # noqa: BLE001 - GC retries; the original error is what the user needs
        pass


def begin(opts: RunOptions, store: S.Store) -> Created:
    """The first stages of a foreground run: collect what dead runs left, make
    the container's directory, root, spec and plan (nothing forked yet)."""
    from .gc import collect

    mark("run: start")
    store.ensure()
    collect(store)
    mark("run: gc done")
    created = prepare(opts, store, detached=False, auto_remove=True)
    mark("run: prepared")
    return created


def create_container(created: Created, persist_created: bool = True) -> None:
    """create() with every subsystem's set-up before start: the one call shared by
    ``run`` and ``run -d`` (runtime/detach.py), so both get the same container."""
    from ..net.hook import before_start  # network set-up once init's namespaces exist (None: loopback)

    create(created, created.launch.linux.cgroups_path, before_start=before_start(created.launch.spec),
           persist_created=persist_created)


def launch(opts: RunOptions, store: S.Store, *, stdio: tuple[int, int, int] | None = None,
           before_start: Callable[[Created], None] | None = None) -> Created:
    """The parent's start-up, in order, for a container run in the caller's
    process (the CLI's foreground run, nsbox.run): gc, directory, root, spec and
    plan (begin); cgroup, namespaces and init waiting on the exec fifo
    (create_container, whose stages create.create lists); the front end's own
    step (``before_start``: the CLI's terminal, the API's pidfd); init released
    to execve (start).  On any failure everything is undone.  Then the caller
    waits (wait_exit), and calls exited() and finish()."""
    created = begin(opts, store)
    try:
        created.launch.stdio = stdio
        create_container(created, persist_created=False)  # started at once: "running" is written next
        if before_start is not None:
            before_start(created)
        start(created, wait_exec=False)  # from here the container may run at any moment
        mark("run: started")
    except BaseException:
        abandon(created)
        raise
    return created


def exited(created: Created, code: int) -> None:
    """After init was reaped: never signal that pid again; raise the error init
    reported if its execve failed (127/126)."""
    mark("run: exited")
    created.pid = 0
    created.pidns_empty = "pid" in created.launch.new
    from .create import exec_error

    exec_error(created)
