"""The pool's server (zygote): ``main([_, FD, CALLER_PID, DEATHSIG])`` in a fresh interpreter.

Started once per pool by nsbox.pool.Pool; nsbox's own process (not the
caller's), so it may set a parent-death signal and reap its children.  It does
the expensive work once (start()), then loop.Loop hands out sandboxes:

  imports -> state dir <root>/pools/<id> (owner.lock held for life; cgroups
  recorded before they exist, for runtime.gc) -> cgroups: <parent>/<id>/slotN
  with the template's limits -> template (spec, plan, seccomp BPF) -> rootless:
  a user namespace with the maps (a helper child writes them) -> its own mount
  namespace (rslave: nothing reaches the host) -> non-dumpable -> warm sandboxes.

It dies with its caller: SIGKILL when the thread that started it ends (main
thread only), and EOF on the control socket in every case; its sandboxes die
with it (their own parent-death signal), its mounts with its mount namespace,
and what it recorded is collected by the next nsbox call (runtime.gc).
"""

from __future__ import annotations

import _signal
import _socket
import os
import sys

from ..kernel import ns, prctl
from ..runtime import state as S
from . import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .template import Template


class Server:
    def __init__(self, ctl: _socket.socket, config: dict) -> None:
        self.ctl = ctl
        self.config = config
        self.id: str = config["id"]
        self.size: int = config["size"]
        self.store = S.Store(config["root"])
        self.dir = f"{self.store.root}/pools/{self.id}"
        self.state: S.Container | None = None
        self.template: Template | None = None
        self.slot_cgroups: list = []
        self.warnings: list[str] = []

    # -- start-up (everything done once) ---------------------------------------
    def start(self) -> None:
        import warnings

        from ..cgroups.detect import detect
        from ..specgen.options import RunOptions
        from .template import build

        self.make_state_dir()
        layout = detect()
        opts = RunOptions(**self.config["options"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.template = t = build(opts, pool_id=self.id, pool_dir=self.dir, state_root=self.store.root,
                                      layout=layout)
            self.make_cgroups(layout)
        from ..api.options import relabel_text

        self.warnings = [relabel_text(str(w.message)) for w in caught]
        preload(t)
        if t.rootless:
            enter_userns(t)
        ns.unshare(ns.KINDS["mount"][0])
        from ..kernel import mount as M

        # Our own mount namespace: the sandboxes are cloned from it, and their
        # mounts must not propagate to the host's.
        M.mount(None, "/", None, M.MS_SLAVE | M.MS_REC, label="/ (pool server)")
        prctl.set_dumpable(False)  # no sandbox (nor anyone unprivileged) may ptrace us

    def make_state_dir(self) -> None:
        from .. import procfs

        S.ensure_private_dir(f"{self.store.root}/pools")
        pending = f"{self.store.root}/pools/.new-{self.id}"
        os.mkdir(pending, 0o700)
        c = S.Container(self.store, self.id, pending)
        c.take_ownership()  # before the name a collector acts on
        c.init_state(kind="pool", pid=os.getpid(), pidStart=procfs.start_time(os.getpid()),
                     status=S.RUNNING, size=self.size)
        os.rename(pending, self.dir)
        c.path = self.dir
        self.state = c

    def make_cgroups(self, layout) -> None:
        t = self.template
        assert t is not None and self.state is not None
        path = (t.spec.linux.cgroups_path if t.spec.linux else None)
        if not path:
            limits = {k: v for k, v in t.resources.items() if k != "devices"}
            if limits:  # rootless without a delegated cgroup: say so (or refuse), as nsbox run does
                from ..cgroups.apply import unavailable
                from ..cgroups.delegate import find_delegated
                from ..spec.model import ANN_STRICT_LIMITS

                unavailable(limits, find_delegated(os.geteuid())[1] or "no cgroup for the pool",
                            strict=t.spec.annotations.get(ANN_STRICT_LIMITS) == "true")
            return
        from ..cgroups.manager import Cgroup
        from .slotcg import SlotCgroup

        c = self.state
        c.add_resource("cgroup", path=path)  # released last (recorded first): the parent
        Cgroup(path, layout).create()
        for i in range(self.size):
            scg = SlotCgroup(f"{path}/slot{i}", layout)
            c.add_resource("cgroup", path=scg.cg.path)
            scg.create(t.resources, t.rootless)
            self.slot_cgroups.append(scg)

    # -- shutdown --------------------------------------------------------------
    def cleanup(self) -> None:
        """Remove what we made (the sandboxes are already killed and reaped)."""
        from ..runtime import resources

        c = self.state
        if c is None:
            return
        for scg in self.slot_cgroups:
            try:
                scg.destroy()
            except Exception:  # noqa: BLE001 - the rest is released below, or by GC
                pass
        errors = resources.release_all(c.state.get("resources", []))
        if not errors:
            try:
                S.rmtree(self.dir)
            except Exception:  # noqa: BLE001 - a later nsbox call's GC retries
                c.write(status=S.STOPPED, cleanupErrors=errors)
        else:
            c.write(status=S.STOPPED, cleanupErrors=errors)


def preload(t: Template) -> None:
    """What the sandboxes import after pivot_root (and what each would otherwise
    import again after every fork)."""
    from ..runtime.init import preload as init_preload

    init_preload(t.launch)
    for name in ("resource", "nsbox.image.rootfs", "nsbox.net.spec", "nsbox.net.etcfiles", "nsbox.runtime.process",
                 "nsbox.runtime.rootfs", "nsbox.pool.child", "nsbox.kernel.linux", "nsbox.cgroups.manager"):
        __import__(name)


def enter_userns(t: Template) -> None:
    """Rootless: a user namespace for the server and every sandbox, once.  A
    helper child writes the maps (newuidmap for subordinate ranges), then we
    become its root (runtime.init.become_root)."""
    from ..runtime.init import become_root
    from ..runtime.userns import write_maps

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            os.read(r, 1)  # the parent has unshared
            write_maps(os.getppid(), t.uid_ranges, t.gid_ranges, True, t.launch.allow_setgroups)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    os.close(r)
    try:
        ns.unshare(ns.KINDS["user"][0])
    finally:
        os.write(w, b"1")
        os.close(w)
        _, status = os.waitpid(pid, 0)
    if status != 0:
        from ..errors import UserNamespaceUnavailable

        raise UserNamespaceUnavailable("pool server: writing the user namespace's id maps failed")
    become_root(t.launch)


def main(argv: list[str]) -> None:
    fd, caller, deathsig = int(argv[1]), int(argv[2]), argv[3] == "1"
    if deathsig:
        prctl.set_pdeathsig(_signal.SIGKILL)  # boundary-ok: nsbox's own process
    if os.getppid() != caller:
        os._exit(1)
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # boundary-ok: the caller's Ctrl-C is its own
    prctl.set_name("nsbox-pool")
    ctl = _socket.socket(fileno=fd)
    os.set_inheritable(fd, False)
    msg, _ = wire.recv(ctl)
    if msg is None:
        os._exit(0)
    from .. import defaults

    defaults.configure(root=msg["root"], **msg["settings"])  # the caller's settings (nsbox.configure)
    server = Server(ctl, msg)
    loop = boot(server)
    try:
        loop.serve()
    finally:
        loop.shutdown()
        server.cleanup()
    os._exit(0)


def boot(server: Server):
    """Start-up, then "started" (or the error) to the caller."""
    from .loop import Loop
    from .options import limits_of

    try:
        server.start()
        import gc

        # Every object so far is the zygote's: out of the collector's sight, so
        # that a sandbox's collections do not write to (and copy) their pages.
        gc.collect()
        gc.freeze()
        loop = Loop(server)
        loop.warm_up()
    except BaseException as e:  # noqa: BLE001 - reported to the caller as data
        try:
            wire.send(server.ctl, wire.error_message(e))
        except OSError:
            pass
        server.cleanup()
        os._exit(1)
    assert server.template is not None
    wire.send(server.ctl, {"type": "started", "limits": limits_of(server.template.resources),
                           "warnings": server.warnings, "cgroups": bool(server.slot_cgroups)})
    return loop


if __name__ == "__main__":
    main(sys.argv)
