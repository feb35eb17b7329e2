"""``nsbox``: dispatch to a subcommand module; print errors as one line.

Exit codes: the container's own for run/exec; 125 when nsbox fails to run it
(Docker's convention, so the two never mix); otherwise 0 ok, 1 error, 2 usage.
"""

from __future__ import annotations

import os
import sys

COMMANDS = {
    "run": "run",
    "exec": "exec",
    "ps": "ps",
    "logs": "logs",
    "stop": "stop",
    "kill": "kill",
    "rm": "rm",
    "wait": "wait",
    "stats": "stats",
    "inspect": "inspect",
    "ns": "ns",
    "enter": "enter",
    "mounts": "mounts",
    "debug": "debug",
    "audit": "audit",
    "network": "network",
    "pull": "pull",
    "load": "load",
    "save": "save",
    "images": "images",
    "rmi": "rmi",
    "tag": "tag",
    "image": "image",
    "login": "login",
    "logout": "logout",
    "commit": "commit",
    "export": "export",
}
ALIASES: dict[str, str] = {"ls": "ps"}
CONTAINER_COMMANDS = ("run", "exec", "debug", "enter")
VERSION = "0.1.0"

USAGE = """usage: nsbox [--root DIR] [--storage DIR] COMMAND [OPTIONS] ...

Isolate processes with the eight Linux namespaces, rootful or rootless.

commands:
  run       run a command in a new container (-d: in the background)
  exec      run a command in a running container
  ps        list containers (also: ls; -a for stopped ones)
  logs      print the output of a detached container
  stop      stop containers (SIGTERM, then SIGKILL)
  kill      send a signal to containers
  rm        remove containers
  wait      wait for containers to exit; print their exit codes
  stats     show containers' live CPU, memory, I/O and process counts
  inspect   show a container's or any process's isolation as JSON
  ns        list namespaces, like lsns (--type, --container, --pid, --format json)
  enter     run a command in a process's namespaces, like nsenter
  mounts    show a process's mount tree, like findmnt -N
  debug     run an ephemeral debug container in a container's PID and network namespaces
  audit     report how well a container or any process is isolated
  network   manage bridge networks (create, ls, inspect, rm)

images:
  pull      pull an image from a registry
  load      load images from a docker-archive, oci-archive or OCI layout directory
  save      write images as an oci-archive, docker-archive or OCI layout directory
  images    list the local images
  rmi       remove images
  tag       add a name to an image
  image     inspect, prune, ls, rm, tag, pull, load, save
  login     store credentials for a registry (logout removes them)
  commit    make an image of a container's changes
  export    write a container's changes as a layer tar

global options:
  --root DIR      state directory of containers (default /run/nsbox; rootless $XDG_RUNTIME_DIR/nsbox)
  --storage DIR   image store (default /var/lib/nsbox/storage; rootless ~/.local/share/nsbox/storage;
                  also $NSBOX_STORAGE)
"""


def err(msg: str) -> None:
    try:
        sys.stderr.write(f"nsbox: {msg}\n")
        sys.stderr.flush()
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    while argv and argv[0].startswith("-"):
        a = argv.pop(0)
        if a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if a == "--version":
            sys.stdout.write(f"nsbox {VERSION}\n")
            return 0
        if a == "--root" or a.startswith("--root="):
            value = a.partition("=")[2] or (argv.pop(0) if argv else "")
            if not value:
                err("--root needs a directory")
                return 2
            os.environ["NSBOX_ROOT"] = os.path.abspath(value)  # our own children (supervisors) too
            continue
        if a == "--storage" or a.startswith("--storage="):
            value = a.partition("=")[2] or (argv.pop(0) if argv else "")
            if not value:
                err("--storage needs a directory")
                return 2
            os.environ["NSBOX_STORAGE"] = os.path.abspath(value)
            continue
        err(f"unknown global option `{a}` (see nsbox --help)")
        return 2
    if not argv:
        sys.stderr.write(USAGE)
        return 2
    name = ALIASES.get(argv[0], argv[0])
    modname = COMMANDS.get(name)
    if modname is None:
        err(f"unknown command `{argv[0]}` (see nsbox --help)")
        return 2
    failure = 125 if name in CONTAINER_COMMANDS else 1
    try:
        configure_from_environment()
        name_ = f"nsbox.cli.{modname}"
        __import__(name_)  # (importlib would import warnings: ~0.6 ms)
        mod = sys.modules[name_]
        return int(mod.main(argv[1:]) or 0)
    except KeyboardInterrupt:
        return 130
    except BaseException as e:  # noqa: BLE001 - the one place errors become a line
        return report(e, failure)


def configure_from_environment() -> None:
    """The CLI's configuration comes from NSBOX_* variables (the library's from its caller)."""
    from .. import defaults, trace

    defaults.configure(root=_abs(os.environ.get("NSBOX_ROOT")),
                       cgroup_parent=os.environ.get("NSBOX_CGROUP_PARENT") or None,
                       network_dir=_abs(os.environ.get("NSBOX_NETWORK_DIR")),
                       storage=_abs(os.environ.get("NSBOX_STORAGE")),
                       max_layer_size=_bytes("NSBOX_MAX_LAYER_SIZE"),
                       registries_conf=os.environ.get("CONTAINERS_REGISTRIES_CONF") or None)
    trace.ON = trace.ON or bool(os.environ.get("NSBOX_TRACE"))
    defaults.warning_hook = _show_warning  # "nsbox: warning: ..." (no `warnings` import: 0.5 ms)


def _bytes(var: str) -> int | None:
    value = os.environ.get(var, "")
    if not value:
        return None
    if not value.isdigit():
        from ..errors import ConfigError

        raise ConfigError(f"{var} `{value}`: expected a number of bytes")
    return int(value)


def _abs(path: str | None) -> str | None:
    return os.path.abspath(path) if path else None


def _show_warning(message: str) -> None:
    err(f"warning: {message}")


def report(e: BaseException, failure: int) -> int:
    from ..errors import ExecError, NsboxError
    from .args import UsageError

    if isinstance(e, SystemExit):
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    if isinstance(e, UsageError):
        err(str(e))
        return 2 if failure == 1 else failure
    if isinstance(e, ExecError):
        err(str(e))
        return e.exit_code
    if isinstance(e, (NsboxError, OSError)):
        err(str(e) if not isinstance(e, OSError) or e.__class__.__name__ == "KernelError"
            else _os_error(e))
        return getattr(e, "exit_code", failure) if isinstance(e, NsboxError) and \
            getattr(e, "exit_code", 1) != 1 else failure
    if os.environ.get("NSBOX_DEBUG"):
        raise e
    err(f"internal error: {type(e).__name__}: {e} (set NSBOX_DEBUG=1 for a traceback)")
    return failure


def _os_error(e: OSError) -> str:
    where = f" `{e.filename}`" if e.filename else ""
    return f"{e.strerror or e}{where}" if not where else f"{where.strip()}: {e.strerror}"


if __name__ == "__main__":
    sys.exit(main())
