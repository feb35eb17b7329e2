"""The OCI runtime-spec v1.3.0 config (config.md, config-linux.md) as records.

No system calls here: this module describes a container; nsbox.runtime runs it.
Field names are the spec's, in snake_case; JSON uses the spec's camelCase.
Structures whose shape other modules own (cgroup resources, seccomp) are kept
as plain JSON objects (``Any``) and interpreted by their executors.
"""

from __future__ import annotations

from .record import Record

OCI_VERSION = "1.3.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Extensions nsbox reads from annotations (config.md: "Annotations ... MAY be
# used by implementations"); every one is optional.
ANN_OVERLAY_LOWER = "run.nsbox.rootfs.lower"      # ':'-separated lower dirs, root.path is the merge point
ANN_OVERLAY_UPPER = "run.nsbox.rootfs.upper"
ANN_OVERLAY_WORK = "run.nsbox.rootfs.work"
ANN_INIT = "run.nsbox.init"                        # "true": a minimal init reaps and forwards signals
ANN_MASK_FILES = "run.nsbox.mask"                   # ':'-separated files hidden behind /dev/null
ANN_NAME = "run.nsbox.name"
ANN_STRICT_LIMITS = "run.nsbox.strict-limits"     # "true": a limit that cannot be applied is an error


def overlay_escape(path: str) -> str:
    r"""A path as overlayfs options spell it: `\`, `:` and `,` escaped with `\`."""
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def overlay_join(paths) -> str:
    return ":".join(overlay_escape(p) for p in paths)


def overlay_split(value: str) -> list[str]:
    """The paths of an overlay ``lowerdir`` value (the inverse of overlay_join)."""
    out, cur, i = [], [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            cur.append(value[i + 1])
            i += 2
            continue
        if c == ":":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


class ConsoleSize(Record):
    height: int = 0
    width: int = 0


class User(Record):
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: tuple[int, ...] = ()
    username: str | None = None


class Capabilities(Record):
    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


class Rlimit(Record):
    type: str
    hard: int
    soft: int


class Process(Record):
    terminal: bool = False
    console_size: ConsoleSize | None = None
    user: User = User()
    args: tuple[str, ...] = ()
    command_line: str | None = None
    env: tuple[str, ...] = ()
    cwd: str = "/"
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    apparmor_profile: str | None = None
    oom_score_adj: int | None = None
    selinux_label: str | None = None
    io_priority: Any | None = None
    scheduler: Any | None = None
    exec_cpu_affinity: Any | None = None

    _json_names = {"selinux_label": "selinuxLabel", "io_priority": "ioPriority",
                   "exec_cpu_affinity": "execCPUAffinity"}


class Root(Record):
    path: str
    readonly: bool = False


class IDMapping(Record):
    container_id: int
    host_id: int
    size: int

    _json_names = {"container_id": "containerID", "host_id": "hostID"}


class Mount(Record):
    destination: str
    type: str | None = None
    source: str | None = None
    options: tuple[str, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()


class Hook(Record):
    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None


class Hooks(Record):
    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()


class Namespace(Record):
    type: str
    path: str | None = None


class TimeOffset(Record):
    secs: int = 0
    nanosecs: int = 0


class Device(Record):
    type: str
    path: str
    major: int | None = None
    minor: int | None = None
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


class Linux(Record):
    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    time_offsets: dict[str, TimeOffset] = {}
    devices: tuple[Device, ...] = ()
    cgroups_path: str | None = None
    resources: Any | None = None
    sysctl: dict[str, str] = {}
    seccomp: Any | None = None
    rootfs_propagation: str | None = None
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    mount_label: str | None = None
    personality: Any | None = None
    intel_rdt: Any | None = None
    memory_policy: Any | None = None
    net_devices: dict[str, Any] = {}

    _json_names = {"intel_rdt": "intelRdt"}

    def namespace(self, kind: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.type == kind:
                return ns
        return None


class Spec(Record):
    oci_version: str = OCI_VERSION
    process: Process | None = None
    root: Root | None = None
    hostname: str | None = None
    domainname: str | None = None
    mounts: tuple[Mount, ...] = ()
    hooks: Hooks | None = None
    annotations: dict[str, str] = {}
    linux: Linux | None = None

    _json_names = {"oci_version": "ociVersion"}


def load(data: Any) -> Spec:
    """Build a Spec from parsed config.json; raises SpecError with the JSON path."""
    return Spec.from_json(data)
