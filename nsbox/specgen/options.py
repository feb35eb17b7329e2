"""RunOptions: what a user asks of ``nsbox run`` (CLI flags, or the Python API).

Plain values, named like the CLI's long options; nsbox.specgen.builder turns them
into a Spec.  Subsystems extend this record with their own fields.
"""

from __future__ import annotations

from ..spec.record import Record


class RunOptions(Record):
    command: tuple[str, ...] = ()
    rootfs: str | None = None
    image: str | None = None             # an image of the store: its layers are the root (nsbox.image)
    entrypoint: str | None = None        # replaces the image's Entrypoint (and drops its Cmd)
    name: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    env: tuple[str, ...] = ()
    env_file: tuple[str, ...] = ()
    workdir: str | None = None
    user: str | None = None
    interactive: bool = False
    tty: bool = False
    # namespaces
    share: tuple[str, ...] = ()          # kinds shared with the host
    ns: tuple[str, ...] = ()             # KIND=PATH: join an existing namespace
    network: str | None = None           # none|host|ns:PATH|bridge|NAME|veth:ADDR/LEN|pasta|slirp4netns
    publish: tuple[str, ...] = ()        # -p [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp]
    ip: str | None = None                # --ip: the container's address on its bridge network
    dns: tuple[str, ...] = ()            # --dns: nameservers for /etc/resolv.conf
    add_host: tuple[str, ...] = ()       # --add-host HOST:IP lines for /etc/hosts
    pid: str | None = None               # host | ns:PATH
    ipc: str | None = None
    uts: str | None = None
    cgroupns: str | None = None
    userns: str | None = None            # host | private | auto | ns:PATH
    uidmap: tuple[str, ...] = ()
    gidmap: tuple[str, ...] = ()
    time_offset: tuple[str, ...] = ()    # monotonic=SECONDS, boottime=SECONDS
    # file system
    propagation: str | None = None
    volume: tuple[str, ...] = ()
    tmpfs: tuple[str, ...] = ()
    read_only: bool = False
    # resources (cgroups): Docker's names and units, parsed by nsbox.specgen.resources
    memory: str | None = None
    memory_swap: str | None = None
    memory_reservation: str | None = None
    memory_swappiness: str | None = None
    oom_kill_disable: bool = False
    cpus: str | None = None
    cpu_shares: str | None = None
    cpu_weight: str | None = None
    cpu_period: str | None = None
    cpu_quota: str | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: str | None = None
    io_weight: str | None = None
    blkio_weight: str | None = None
    blkio_weight_device: tuple[str, ...] = ()
    device_read_bps: tuple[str, ...] = ()
    device_write_bps: tuple[str, ...] = ()
    device_read_iops: tuple[str, ...] = ()
    device_write_iops: tuple[str, ...] = ()
    cgroup_conf: tuple[str, ...] = ()    # cgroup v2 FILE=VALUE (Podman's --cgroup-conf)
    cgroup_parent: str | None = None
    strict_limits: bool = False
    # process
    init: bool = False
    detach: bool = False
    rm: bool = False
    # privileges (nsbox.specgen.privileges)
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    ulimit: tuple[str, ...] = ()         # NAME=SOFT[:HARD]
    sysctl: tuple[str, ...] = ()         # KEY=VALUE (nsbox.specgen.sysctl)
    oom_score_adj: int | str | None = None
    group_add: tuple[str, ...] = ()
    landlock_ro: tuple[str, ...] = ()
    landlock_rw: tuple[str, ...] = ()


# The fields above that ask for a cgroup limit (the builder loads nsbox.specgen.resources only then).
RESOURCE_FIELDS = ("memory", "memory_swap", "memory_reservation", "memory_swappiness", "oom_kill_disable",
                   "cpus", "cpu_shares", "cpu_weight", "cpu_period", "cpu_quota", "cpuset_cpus", "cpuset_mems",
                   "pids_limit", "io_weight", "blkio_weight", "blkio_weight_device", "device_read_bps",
                   "device_write_bps", "device_read_iops", "device_write_iops", "cgroup_conf")


class ExecOptions(Record):
    """What a user asks of ``nsbox exec`` (CLI flags, or the Python API)."""

    container: str = ""
    command: tuple[str, ...] = ()
    interactive: bool = False
    tty: bool = False
    env: tuple[str, ...] = ()
    env_file: tuple[str, ...] = ()
    workdir: str | None = None
    user: str | None = None
    detach: bool = False
