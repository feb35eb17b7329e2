"""User-mode networking: pasta (passt) and slirp4netns, rootless (and as root).

Both give the container a tap device (eth0) whose traffic a process of the
caller's turns into ordinary sockets on the host: no privilege, no bridge, no
nftables.  Published ports are that process listening on the host.

- pasta joins init's user and network namespaces by PID (rootless).  As root it
  drops to nobody before joining, so the namespace is registered first as
  /run/netns/nsbox-<id> (``--runas 0:0 --netns PATH``), as Podman does.  pasta
  daemonizes once the tap is configured; its pid is in ``<state>/pasta.pid``.
- slirp4netns runs in the foreground: ``--ready-fd`` says the tap is up,
  ``--exit-fd`` (a pipe we hold) stops it when this process goes, and port
  forwards are requests on its API socket.

Both need /dev/net/tun, opened with the caller's credentials.
"""

from __future__ import annotations

import os

from .etcfiles import PASTA_DNS
from .mode import TUN
from .store import NetworkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime.create import Created
    from .mode import NetMode
    from .ports import Port

READY_TIMEOUT = 10.0
NETNS_DIR = "/run/netns"
_exit_fds: list[int] = []   # write ends of slirp4netns exit pipes: closed when we exit


def find(name: str, package: str) -> str:
    for d in os.environ.get("PATH", "").split(":") + ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]:
        if d and os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    raise NetworkError(f"--network {name}: `{name}` is not installed (apt-get install {package})")


def check_tun(mode: str) -> None:
    """pasta and slirp4netns open /dev/net/tun as the caller: say so before they fail."""
    try:
        os.close(os.open(TUN, os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        if e.errno in (1, 13):  # EPERM, EACCES
            hint = (f"{mode} needs the TUN device; let users open it (as root: chmod 0666 {TUN}), "
                    "or use --network none")
        else:
            hint = f"{mode} needs the TUN device (modprobe tun)"
        raise NetworkError(f"--network {mode}: {TUN}: {e.strerror} ({hint})") from None


def start(created: Created, mode: NetMode, ports: list[Port]) -> None:
    check_tun(mode.kind)
    if mode.kind == "pasta":
        pasta(created, mode, ports)
    else:
        slirp4netns(created, mode, ports)


# -- pasta --------------------------------------------------------------------

def pasta_args(mode: NetMode, ports: list[Port], state_dir: str) -> list[str]:
    args = ["--config-net", "-I", "eth0", "-q", "-l", f"{state_dir}/pasta.log", "-P", f"{state_dir}/pasta.pid",
            "-T", "none", "-U", "none", "--dns-forward", PASTA_DNS]
    if mode.option("allow_host_loopback") != "true":
        args.append("--no-map-gw")  # Podman's default: the gateway is not the host's loopback
    for proto, flag in (("tcp", "-t"), ("udp", "-u")):
        specs = [f"{p.host_ip + '/' if p.host_ip else ''}{p.host_port}:{p.port}" for p in ports if p.proto == proto]
        for s in specs or ["none"]:
            args += [flag, s]
    args += [a for a in mode.options if not a.startswith("allow_host_loopback=")]
    return args


def pasta(created: Created, mode: NetMode, ports: list[Port]) -> None:
    import subprocess

    from .release import helper as release_helper
    from .release import netns as release_netns

    exe = find("pasta", "passt")
    state_dir = created.container.path
    args = [exe] + pasta_args(mode, ports, state_dir)
    if os.geteuid() == 0:
        path = registered_netns(created)
        if path is None:
            path = f"{NETNS_DIR}/nsbox-{created.container.id[:12]}"
            rec = {"path": path}
            created.hold("net-netns", f"unregister network namespace `{path}`", lambda: release_netns(rec), **rec)
            register_netns(created.pid, path)
        args += ["--runas", "0:0", "--netns", path]
    elif created.ns_fds:  # init's own fds: it may be non-dumpable (runtime/launch.py)
        args += ["--userns", f"/proc/self/fd/{created.ns_fds['user']}",
                 "--netns", f"/proc/self/fd/{created.ns_fds['network']}"]
    else:
        args.append(str(created.pid))
    hrec = {"pidfile": f"{state_dir}/pasta.pid", "exe": "pasta"}
    created.hold("net-helper", "stop pasta", lambda: release_helper(hrec), **hrec)
    try:
        r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, timeout=READY_TIMEOUT, pass_fds=tuple(created.ns_fds.values()))
    except subprocess.TimeoutExpired:
        raise NetworkError(f"--network pasta: pasta did not finish its set-up in {READY_TIMEOUT:.0f} s") from None
    if r.returncode != 0:
        raise NetworkError(f"--network pasta: {_reason(r.stderr, f'{state_dir}/pasta.log')}")
    _own_hosts(created, None)


def _reason(stderr: str, log: str) -> str:
    lines = [x.strip() for x in stderr.splitlines() if x.strip() and "Failed to send" not in x
             and "No external routable interface for IPv6" not in x and "Don't run as root" not in x]
    if not lines:
        try:
            with open(log) as f:
                lines = [x.split("ERROR:", 1)[1].strip() for x in f if "ERROR:" in x]
        except OSError:
            pass
    return "; ".join(lines[-2:]) or "failed (no message)"


def registered_netns(created: Created) -> str | None:
    """The /run/netns registration create() made for ``ip netns`` (runtime/netns.py), if any."""
    for r in (created.container.state or {}).get("resources", []):
        if r.get("kind") == "netns" and r.get("path"):
            return r["path"]
    return None


def register_netns(pid: int, path: str) -> None:
    """Bind init's network namespace to ``path`` (what ``ip netns attach`` does)."""
    from ..kernel.mount import MS_BIND, mount

    os.makedirs(NETNS_DIR, 0o755, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)
    mount(f"/proc/{pid}/ns/net", path, None, MS_BIND)


# -- slirp4netns --------------------------------------------------------------

def slirp4netns(created: Created, mode: NetMode, ports: list[Port]) -> None:
    import subprocess

    from .release import helper as release_helper

    exe = find("slirp4netns", "slirp4netns")
    state_dir = created.container.path
    ready_r, ready_w = os.pipe()
    exit_r, exit_w = os.pipe()
    # Kept across execve: a detached container's supervisor re-executes itself
    # (runtime/detach.py) and must go on holding it.  Init was forked before.
    os.set_inheritable(exit_w, True)
    args = [exe, "--configure", f"--mtu={mode.option('mtu', '65520')}", f"--ready-fd={ready_w}",
            f"--exit-fd={exit_r}", "--api-socket=slirp.sock"]
    if mode.option("allow_host_loopback") != "true":
        args.append("--disable-host-loopback")
    if mode.option("cidr"):
        args.append(f"--cidr={mode.option('cidr')}")
    if mode.option("enable_ipv6") == "true":
        args.append("--enable-ipv6")
    if mode.option("outbound_addr"):
        args.append(f"--outbound-addr={mode.option('outbound_addr')}")
    if created.ns_fds:  # init's own fds: it may be non-dumpable (runtime/launch.py)
        args += ["--netns-type=path", f"--userns-path=/proc/self/fd/{created.ns_fds['user']}",
                 f"/proc/self/fd/{created.ns_fds['network']}", "eth0"]
    else:
        args += [str(created.pid), "eth0"]
    hrec = {"pidfile": f"{state_dir}/slirp4netns.pid", "exe": "slirp4netns"}
    created.hold("net-helper", "stop slirp4netns", lambda: release_helper(hrec), **hrec)
    log = os.open(f"{state_dir}/slirp4netns.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        p = subprocess.Popen(args, pass_fds=(ready_w, exit_r, *created.ns_fds.values()), cwd=state_dir,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    finally:
        os.close(log)
        os.close(ready_w)
        os.close(exit_r)
    _exit_fds.append(exit_w)
    with open(hrec["pidfile"], "w") as f:
        f.write(str(p.pid))
    try:
        _wait_ready(ready_r, p, f"{state_dir}/slirp4netns.log")
    finally:
        os.close(ready_r)
    for port in ports:
        _hostfwd(state_dir, port)
    _own_hosts(created, _slirp_address(mode.option("cidr")))


def _wait_ready(fd: int, p, log: str) -> None:
    import select

    r, _, _ = select.select([fd], [], [], READY_TIMEOUT)
    data = os.read(fd, 1) if r else b""
    if data == b"1":
        return
    if not r:
        raise NetworkError(f"--network slirp4netns: not ready after {READY_TIMEOUT:.0f} s")
    p.wait()
    try:
        with open(log) as f:
            tail = [x.strip() for x in f if x.strip()][-2:]
    except OSError:
        tail = []
    raise NetworkError(f"--network slirp4netns: exited with status {p.returncode}"
                       + (f": {'; '.join(tail)}" if tail else ""))


def _hostfwd(state_dir: str, p: Port) -> None:
    """One ``add_hostfwd`` request on the API socket (slirp4netns(1) "API")."""
    import socket

    from .. import jsonio

    req = {"execute": "add_hostfwd", "arguments": {"proto": p.proto, "host_addr": p.host_ip or "0.0.0.0",
                                                   "host_port": p.host_port, "guest_port": p.port}}
    dfd = os.open(state_dir, os.O_PATH | os.O_CLOEXEC)  # sun_path is 108 bytes: go through the fd
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(READY_TIMEOUT)
        s.connect(f"/proc/self/fd/{dfd}/slirp.sock")
        s.sendall(jsonio.dumps(req).encode())
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            b = s.recv(4096)
            if not b:
                break
            chunks.append(b)
    except OSError as e:
        raise NetworkError(f"publish `{p}`: slirp4netns API: {e.strerror or e}") from None
    finally:
        s.close()
        os.close(dfd)
    try:
        reply = jsonio.loads(b"".join(chunks).decode() or "{}")
    except ValueError:
        reply = {"error": {"desc": "unreadable reply"}}
    if "error" in reply:
        raise NetworkError(f"publish `{p}`: slirp4netns: {reply['error'].get('desc', reply['error'])}")


def _slirp_address(cidr: str) -> str:
    from . import ipv4

    if not cidr:
        return "10.0.2.100"
    net, _prefix = ipv4.parse_cidr(cidr, "slirp4netns cidr", strict=False)
    return ipv4.fmt((net & ipv4.mask(_prefix)) + 100)


def _own_hosts(created: Created, address: str | None) -> None:
    """Name the container's own address in its /etc/hosts once it is known."""
    if not address:
        return
    from . import etcfiles
    from .bridge import lease_info

    info = lease_info(created, "")
    etcfiles.rewrite(info["hosts"], etcfiles.hosts_text(info["hostname"], [(address, info["names"])],
                                                        [tuple(x) for x in info["extra"]]))
