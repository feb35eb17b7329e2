"""``nsbox-runc``: global flags, dispatch to a verb module, errors as one line.

Global flags are runc's: ``--root DIR`` (state), ``--log FILE`` and
``--log-format text|json`` (where errors are also written: conmon and the
containerd shim read them there), ``--debug``, ``--systemd-cgroup`` (refused:
this runtime drives cgroupfs only), ``--rootless`` and ``--criu`` (accepted).
Exit codes: 0 ok, 1 error, 2 usage; ``run`` returns the container's status.
"""

from __future__ import annotations

import os
import sys

VERSION = "0.1.0"
COMMANDS = ("create", "start", "run", "state", "kill", "delete", "exec", "ps", "list", "pause", "resume",
            "update", "events", "features", "spec", "checkpoint", "restore")
MODULES = {"pause": "pause", "resume": "pause", "restore": "checkpoint", "list": "listing"}

USAGE = """usage: nsbox-runc [GLOBAL OPTIONS] COMMAND [OPTIONS] ID ...

An OCI runtime (runtime-spec 1.3.0) with runc's command line, on nsbox's engine.

commands:
  create      create a container from a bundle (its process waits for start)
  start       run the user process of a created container
  run         create and start a container (--detach: do not wait for it)
  state       print a container's state as JSON
  kill        send a signal to a container's init (--all: to every process)
  delete      delete a stopped container (--force: any container)
  exec        run a new process in a running container
  ps          list a container's processes (--format json: their pids)
  list        list containers (--format json, -q)
  pause       freeze every process of a container
  resume      thaw a paused container
  update      change a container's cgroup limits
  events      print a container's events or resource statistics
  features    print the features this runtime implements (JSON)
  spec        write a default config.json in a bundle
  checkpoint  (unavailable: CRIU fails on this kernel)
  restore     (unavailable: CRIU fails on this kernel)

global options:
  --root DIR            state directory (/run/nsbox-runc; rootless $XDG_RUNTIME_DIR/nsbox-runc)
  --log FILE            also write errors and warnings to FILE
  --log-format FORMAT   text or json
  --debug               log debug messages
  --systemd-cgroup      (refused: no systemd here; the cgroupfs driver is used)
"""


class Globals:
    def __init__(self) -> None:
        self.root: str | None = None
        self.log: str | None = None
        self.log_format = "text"
        self.debug = False
        self.systemd_cgroup = False


G = Globals()


def err(msg: str) -> None:
    try:
        sys.stderr.write(f"nsbox-runc: {msg}\n")
        sys.stderr.flush()
    except OSError:
        pass
    log("error", msg)


def log(level: str, msg: str) -> None:
    """Append a line to --log (runc's format: logrus text, or one JSON object)."""
    if not G.log:
        return
    from ..runtime.state import now

    if G.log_format == "json":
        from .. import jsonio

        line = jsonio.dumps({"level": level, "msg": msg, "time": now()})
    else:
        line = f'time="{now()}" level={level} msg="{msg.replace(chr(34), chr(92) + chr(34))}"'
    try:
        fd = os.open(G.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def warn(msg: str) -> None:
    try:
        sys.stderr.write(f"nsbox-runc: warning: {msg}\n")
    except OSError:
        pass
    log("warning", msg)


GLOBAL_VALUES = ("--root", "--log", "--log-format", "--criu", "--rootless")
GLOBAL_BOOLS = ("--debug", "--systemd-cgroup")


def parse_globals(argv: list[str]) -> int | None:
    """Consume the global options; an exit code if we are done (help, version, usage)."""
    while argv and argv[0].startswith("-"):
        a = argv.pop(0)
        name, eq, value = a.partition("=")
        if name.startswith("-") and not name.startswith("--"):
            name = "-" + name  # runc (urfave/cli) also takes -root, -log
        if name in ("--help", "-h"):
            sys.stdout.write(USAGE)
            return 0
        if name in ("--version", "-v"):
            from ..spec.model import OCI_VERSION

            sys.stdout.write(f"nsbox-runc version {VERSION}\nspec: {OCI_VERSION}\n")
            return 0
        if name in GLOBAL_BOOLS:
            on = not eq or value.lower() in ("true", "1")
            setattr(G, name[2:].replace("-", "_"), on)
            continue
        if name in GLOBAL_VALUES:
            if not eq:
                if not argv:
                    err(f"{name} needs a value")
                    return 2
                value = argv.pop(0)
            if name == "--root":
                G.root = os.path.abspath(value)
            elif name == "--log":
                G.log = os.path.abspath(value)
            elif name == "--log-format":
                if value not in ("text", "json"):
                    err(f"--log-format `{value}`: must be text or json")
                    return 2
                G.log_format = value
            continue
        err(f"unknown global option `{a}` (see nsbox-runc --help)")
        return 2
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    done = parse_globals(argv)
    if done is not None:
        return done
    if not argv:
        sys.stderr.write(USAGE)
        return 2
    name = argv[0]
    if name not in COMMANDS:
        err(f"unknown command `{name}` (see nsbox-runc --help)")
        return 2
    if G.systemd_cgroup:
        err("--systemd-cgroup: refused: there is no systemd on this machine to delegate cgroups to "
            "(use the cgroupfs driver: omit --systemd-cgroup, e.g. podman --cgroup-manager cgroupfs)")
        return 1
    if G.debug:
        log("debug", f"nsbox-runc {name} {' '.join(argv[1:])}")
    try:
        modname = f"nsbox.runc.{MODULES.get(name, name)}"
        __import__(modname)
        return int(sys.modules[modname].main(name, argv[1:]) or 0)
    except KeyboardInterrupt:
        return 130
    except BaseException as e:  # noqa: BLE001 - the one place errors become a line
        return report(e)


def report(e: BaseException) -> int:
    from ..cli.args import UsageError
    from ..errors import ExecError, NsboxError

    if isinstance(e, SystemExit):
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    if isinstance(e, UsageError):
        err(str(e))
        return 2
    if isinstance(e, ExecError):
        err(str(e))
        return 1
    if isinstance(e, (NsboxError, OSError)):
        if isinstance(e, OSError) and e.__class__.__name__ != "KernelError":
            where = f"`{e.filename}`: " if e.filename else ""
            err(f"{where}{e.strerror or e}")
        else:
            err(str(e))
        return 1
    if os.environ.get("NSBOX_DEBUG"):
        raise e
    err(f"internal error: {type(e).__name__}: {e} (set NSBOX_DEBUG=1 for a traceback)")
    return 1
