"""RunOptions: what a user asks of ``nsbox run`` (CLI flags, or the Python API).

Plain values, named like the CLI's long options; nsbox.spec.builder turns them
into a Spec.  Subsystems extend this record with their own fields.
"""

from __future__ import annotations

from .record import Record


class RunOptions(Record):
    command: tuple[str, ...] = ()
    rootfs: str | None = None
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
    # process
    init: bool = False
    detach: bool = False
    rm: bool = False
