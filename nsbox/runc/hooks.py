"""OCI hooks (config.md "POSIX-platform Hooks"): the state on stdin, a timeout.

- prestart, createRuntime, poststart, poststop: run here, in the runtime
  namespace;
- createContainer: the path resolved here (opened before joining), executed in
  the container's namespaces (setns to its init's, then fexecve);
- startContainer: path resolved and executed in the container's namespaces.

A hook fails when it cannot be started, exits non-zero, is killed, or outlives
its ``timeout`` (then it is SIGKILLed).  The error names the stage, the hook's
path and the reason, with the end of what it wrote to stderr.
"""

from __future__ import annotations

import os

from ..errors import NsboxError
from ..spec import model

OUTPUT_LIMIT = 4096


class HookError(NsboxError):
    pass


def json_name(stage: str) -> str:
    head, *rest = stage.split("_")
    return head + "".join(p.title() for p in rest)


def hooks_of(spec: model.Spec, stage: str) -> tuple[model.Hook, ...]:
    if spec.hooks is None:
        return ()
    return getattr(spec.hooks, stage)


def run_all(spec: model.Spec, stage: str, state: dict, *, join_pid: int = 0, resolve_inside: bool = False,
            warn=None) -> None:
    """Run one stage's hooks in order; the first failure raises (or warns, ``warn``)."""
    from .. import jsonio

    data = jsonio.dumps(state).encode()
    confine = spec.process if resolve_inside else None
    for i, hook in enumerate(hooks_of(spec, stage)):
        try:
            run_one(hook, data, f"hooks.{json_name(stage)}[{i}]", join_pid=join_pid, resolve_inside=resolve_inside,
                    confine=confine)
        except HookError as e:
            if warn is None:
                raise
            warn(str(e))


def run_one(hook: model.Hook, data: bytes, where: str, *, join_pid: int = 0, resolve_inside: bool = False,
            confine: model.Process | None = None) -> None:
    exe = -1
    if join_pid and not resolve_inside:
        try:  # createContainer: the path resolves in the runtime namespace
            exe = os.open(hook.path, os.O_RDONLY)
        except OSError as e:
            raise HookError(f"{where} `{hook.path}`: {e.strerror}") from None
    stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(stdin_w)  # (close-on-exec, but a joining child forks before it execs)
        os.close(err_r)
        _child(hook, exe, stdin_r, err_w, join_pid, confine)
    for fd in (stdin_r, err_w) + ((exe,) if exe >= 0 else ()):
        os.close(fd)
    try:
        try:
            os.write(stdin_w, data)
        except BrokenPipeError:
            pass  # a hook that does not read its stdin is fine
        finally:
            os.close(stdin_w)
        status, output = _wait(pid, err_r, hook.timeout)
    finally:
        os.close(err_r)
    if status is None:
        raise HookError(f"{where} `{hook.path}`: timed out after {hook.timeout} s (killed){_tail(output)}")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        why = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        raise HookError(f"{where} `{hook.path}`: {why}{_tail(output)}")


def _tail(output: bytes) -> str:
    text = output.decode(errors="replace").strip()
    return f": {text[-400:]}" if text else ""


def _child(hook: model.Hook, exe: int, stdin_r: int, err_w: int, join_pid: int,
           confine: model.Process | None) -> None:
    try:
        os.dup2(stdin_r, 0)
        os.dup2(err_w, 2)
        null = os.open("/dev/null", os.O_WRONLY)
        os.dup2(null, 1)  # stdout to /dev/null: our stdout may be the container's log
        drop = None
        if confine is not None:
            _join_cgroups(join_pid)  # (host paths: before the cgroup namespace)
            drop = _privileges(confine)  # (imports and /proc reads: before the mount namespace)
        if join_pid:
            _join(join_pid)
        if drop is not None:
            drop()
            os.closerange(3, 0x7FFFFFFF)  # nothing of our caller's (a host directory fd is a way out)
        args = list(hook.args) or [hook.path]
        env = dict(kv.split("=", 1) for kv in hook.env if "=" in kv)
        if exe >= 0:
            # fexecve; inheritable, as a script's interpreter reads it through /dev/fd/N
            os.set_inheritable(exe, True)
            os.execve(exe, args, env)
        os.execve(hook.path, args, env)
    except OSError as e:
        os.write(2, f"exec: {e.strerror}".encode())
    except BaseException as e:  # noqa: BLE001 - a forked child never returns
        os.write(2, str(e).encode())
    os._exit(127)


def _join_cgroups(pid: int) -> None:
    """Into the cgroups of the container's init, in every hierarchy (best effort:
    rootless may have none it can write)."""
    from ..cgroups.detect import detect

    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f if line.count(":") >= 2]
    for h in detect().hierarchies:
        for hid, ctrls, path in lines:
            if (h.version == 2 and hid == "0") or (h.version == 1 and hid != "0" and set(ctrls.split(",")) == (
                    set(h.controllers) | ({f"name={h.name}"} if h.name else set()))):
                try:
                    with open(f"{h.mountpoint}{path}/cgroup.procs", "w") as cp:
                        cp.write("0")
                except OSError:
                    pass


def _privileges(proc: model.Process):
    """A startContainer hook's executable is the container's file: it runs as the
    container's process would (user, capabilities, no_new_privs), as in runc's init.
    Returns the function that drops to them (called once in the container)."""
    from ..kernel import caps as K
    from ..kernel import ids, prctl
    from ..runtime.privileges import cap_masks

    last = K.last_cap()
    masks = cap_masks(proc.capabilities, last) if proc.capabilities is not None else dict.fromkeys(
        ("bounding", "effective", "permitted", "inheritable", "ambient"), 0)
    user = proc.user

    def drop() -> None:
        K.bounding_limit(masks["bounding"], last)
        prctl.set_keepcaps(True)
        ids.setgroups(list(user.additional_gids))
        ids.setresgid(user.gid)
        ids.setresuid(user.uid)
        prctl.set_keepcaps(False)
        K.capset(masks["effective"], masks["permitted"], masks["inheritable"])
        K.ambient_clear()
        for cap in range(last + 1):
            if masks["ambient"] >> cap & 1:
                K.ambient_raise(cap)
        if proc.no_new_privileges:
            prctl.set_no_new_privs()
    return drop


def _join(pid: int) -> None:
    """Enter every namespace of the container's init that is not ours."""
    from ..kernel import ns
    from ..runtime.exec import namespace_flags

    flags = namespace_flags(pid)
    fd = os.pidfd_open(pid)
    try:
        ns.setns_flags(fd, flags, f"container init (pid {pid})")
    finally:
        os.close(fd)
    os.chdir("/")
    if flags & ns.KINDS["pid"][0]:
        # a joined PID namespace holds our children only: the hook runs in a child
        child = os.fork()
        if child:
            _pid, status = os.waitpid(child, 0)
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def _wait(pid: int, err_r: int, timeout: int | None) -> tuple[int | None, bytes]:
    import select
    import time

    out = bytearray()
    pidfd = os.pidfd_open(pid)
    try:
        p = select.poll()
        p.register(err_r, select.POLLIN)
        p.register(pidfd, select.POLLIN)
        deadline = None if timeout is None else time.monotonic() + timeout
        open_ = True
        while True:
            left = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            events = dict(p.poll(left))
            if not events and deadline is not None and time.monotonic() >= deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return None, bytes(out)
            if open_ and err_r in events:
                chunk = os.read(err_r, 4096)
                if chunk:
                    out += chunk[: max(0, OUTPUT_LIMIT - len(out))]
                else:
                    p.unregister(err_r)
                    open_ = False
            if pidfd in events:
                _pid, status = os.waitpid(pid, 0)
                return status, bytes(out)
    finally:
        os.close(pidfd)
