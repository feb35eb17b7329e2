"""Container network throughput: nsbox against Podman, and raw veth, in one run.

    bench/net.sh [--seconds 5] [--repeat 3] [--no-install] [--json]

Every path is measured with iperf3 (Debian's, one TCP stream, -J) inside network
namespaces this script creates and deletes: nothing touches the host's network,
no packet leaves them.

- raw veth         two namespaces joined by a veth pair (no bridge, no netfilter): the goal
- nsbox c2c        a client container -> a server container, over nsbox's bridge
- nsbox published  the bench host -> 127.0.0.1:PORT and -> its own address:PORT (nft DNAT)
- podman c2c / published  the same paths through Podman 4 (netavark bridge; its iptables
                   are iptables-nft, i.e. the same nftables backend), runc as its runtime

Cases are interleaved (each repeat runs every case once), so load from other users
of the machine hits them alike; the report gives the median Gbit/s of each, its
ratio to raw veth's median, and the median of its per-round ratios to raw veth.
Results go to bench/results/net-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

HOST_NS, RAW_A, RAW_B = "nsbench-host", "nsbench-a", "nsbench-b"
NS_PATH = f"/run/netns/{HOST_NS}"
WORKDIR = os.path.join(C.WORK, "net")
NSBOX_NET, NSBOX_SUBNET = "nsbench", "10.89.240.0/24"
PODMAN_NET, PODMAN_SUBNET = "pbench", "10.89.241.0/24"
HOST_ADDR = "198.18.0.1"
PORT_NSBOX, PORT_PODMAN = 15201, 15202
ENV = dict(C.CLEAN_ENV, NSBOX_NETWORK_DIR=os.path.join(WORKDIR, "networks"))
# Podman as root, kept to this directory; crun does not take hybrid cgroups, and
# this machine refuses raising RLIMIT_NOFILE/NPROC (no CAP_SYS_RESOURCE).
PODMAN = ["podman", "--root", f"{WORKDIR}/podman/root", "--runroot", f"{WORKDIR}/podman/run",
          "--network-config-dir", f"{WORKDIR}/podman/net", "--cgroup-manager", "cgroupfs",
          "--events-backend", "none", "--runtime", "runc"]
PODMAN_RUN = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


def sh(*args: str, check: bool = True, ns: str | None = None, **kw) -> subprocess.CompletedProcess:
    argv = (["nsenter", f"--net=/run/netns/{ns}", "--"] if ns else []) + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd="/", **kw)
    if check and r.returncode != 0:
        C.die(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()[-500:]}")
    return r


def bg(*args: str, ns: str) -> subprocess.Popen:
    return subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", "--", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=ENV, cwd="/")


def iperf_rootfs(dest: str) -> str:
    """busybox + iperf3 and the libraries it links (from the host's Debian packages)."""
    if os.path.exists(f"{dest}/bin/iperf3"):
        return dest
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "run"):
        os.makedirs(f"{dest}/{d}", exist_ok=True)
    shutil.copy2("/bin/busybox", f"{dest}/bin/busybox")
    for applet in ("sh", "ip", "sleep", "cat"):
        os.symlink("busybox", f"{dest}/bin/{applet}")
    shutil.copy2("/usr/bin/iperf3", f"{dest}/bin/iperf3")
    libs = subprocess.run(["ldd", "/usr/bin/iperf3"], capture_output=True, text=True, check=True).stdout
    for word in libs.split():
        if word.startswith("/"):
            os.makedirs(os.path.dirname(dest + word), exist_ok=True)
            shutil.copy2(os.path.realpath(word), dest + word)
    os.chmod(f"{dest}/tmp", 0o1777)
    return dest


def make_namespaces() -> None:
    delete_namespaces()
    for ns in (HOST_NS, RAW_A, RAW_B):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    # the bench host's uplink (a default route, as pasta and DNAT from outside expect)
    sh("ip", "-n", HOST_NS, "link", "add", "up0", "type", "veth", "peer", "name", "dn0", "netns", RAW_A)
    sh("ip", "-n", HOST_NS, "addr", "add", f"{HOST_ADDR}/24", "dev", "up0")
    sh("ip", "-n", HOST_NS, "link", "set", "up0", "up")
    sh("ip", "-n", RAW_A, "link", "set", "dn0", "up")
    sh("ip", "-n", HOST_NS, "route", "add", "default", "via", "198.18.0.254")
    # raw veth: A <-> B, nothing else on the path
    sh("ip", "-n", RAW_A, "link", "add", "ra", "type", "veth", "peer", "name", "rb", "netns", RAW_B)
    sh("ip", "-n", RAW_A, "addr", "add", "10.250.0.1/24", "dev", "ra")
    sh("ip", "-n", RAW_B, "addr", "add", "10.250.0.2/24", "dev", "rb")
    sh("ip", "-n", RAW_A, "link", "set", "ra", "up")
    sh("ip", "-n", RAW_B, "link", "set", "rb", "up")


def delete_namespaces() -> None:
    for ns in (HOST_NS, RAW_A, RAW_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def gbits(out: str, what: str) -> float:
    try:
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9
    except (ValueError, KeyError) as e:
        C.die(f"{what}: no iperf3 result ({e}): {out[-300:]}")
        raise


def wait_port(ns: str, addr: str, port: int, what: str) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        r = sh("timeout", "2", "bash", "-c", f"exec 3<>/dev/tcp/{addr}/{port}", ns=ns, check=False)
        if r.returncode == 0:
            return
        time.sleep(0.2)
    C.die(f"{what}: {addr}:{port} never accepted a connection")


class Bench:
    def __init__(self, nsbox: str, seconds: int) -> None:
        self.nsbox = nsbox
        self.t = str(seconds)
        self.procs: list[subprocess.Popen] = []
        self.nsbox_ip = self.podman_ip = ""

    def client(self, argv: list[str], ns: str, what: str) -> float:
        return gbits(sh(*argv, "-t", self.t, "-J", ns=ns).stdout, what)

    # -- servers ---------------------------------------------------------------
    def start(self, rootfs_nsbox: str, rootfs_podman: str) -> None:
        self.procs.append(bg("iperf3", "-s", ns=RAW_A))
        sh(self.nsbox, "network", "create", NSBOX_NET, "--subnet", NSBOX_SUBNET, ns=HOST_NS)
        self.procs.append(bg(self.nsbox, "run", "--init", "--rootfs", rootfs_nsbox, "--network", NSBOX_NET,
                             "--name", "nsbench-srv", "-p", f"{PORT_NSBOX}:5201", "--", "iperf3", "-s",
                             ns=HOST_NS))
        sh(*PODMAN, "network", "create", "--subnet", PODMAN_SUBNET, PODMAN_NET, ns=HOST_NS)
        sh(*PODMAN, "run", "-d", *PODMAN_RUN, "--name", "pbench-srv", "--network", PODMAN_NET, "-p",
           f"{PORT_PODMAN}:5201", "--rootfs", rootfs_podman, "iperf3", "-s", ns=HOST_NS)
        end = time.monotonic() + 30
        while not self.nsbox_ip and time.monotonic() < end:
            info = json.loads(sh(self.nsbox, "network", "inspect", NSBOX_NET, ns=HOST_NS).stdout)[0]
            self.nsbox_ip = next((c["address"] for c in info["containers"].values()
                                  if c["name"] == "nsbench-srv"), "")
            time.sleep(0.1)
        fmt = "{{(index .NetworkSettings.Networks \"" + PODMAN_NET + "\").IPAddress}}"
        self.podman_ip = sh(*PODMAN, "inspect", "-f", fmt, "pbench-srv", ns=HOST_NS).stdout.strip()
        wait_port(RAW_B, "10.250.0.1", 5201, "raw veth server")
        wait_port(HOST_NS, self.nsbox_ip, 5201, "nsbox server")
        wait_port(HOST_NS, self.podman_ip, 5201, "podman server")

    def stop(self) -> None:
        sh(*PODMAN, "rm", "-f", "-t", "0", "pbench-srv", ns=HOST_NS, check=False)
        sh(*PODMAN, "network", "rm", "-f", PODMAN_NET, ns=HOST_NS, check=False)
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        sh(self.nsbox, "network", "rm", NSBOX_NET, ns=HOST_NS, check=False)

    # -- cases -------------------------------------------------------------------
    def cases(self, rootfs_nsbox: str, rootfs_podman: str) -> dict:
        nsbox_c2c = [self.nsbox, "run", "--rootfs", rootfs_nsbox, "--network", NSBOX_NET, "--", "iperf3",
                     "-c", "nsbench-srv"]
        podman_c2c = [*PODMAN, "run", "--rm", *PODMAN_RUN, "--network", PODMAN_NET, "--rootfs", rootfs_podman,
                      "iperf3", "-c", self.podman_ip]
        return {
            "raw veth": lambda: self.client(["iperf3", "-c", "10.250.0.1"], RAW_B, "raw veth"),
            "nsbox c2c (bridge)": lambda: self.client(nsbox_c2c, HOST_NS, "nsbox c2c"),
            "podman c2c (bridge)": lambda: self.client(podman_c2c, HOST_NS, "podman c2c"),
            "nsbox published 127.0.0.1": lambda: self.client(
                ["iperf3", "-c", "127.0.0.1", "-p", str(PORT_NSBOX)], HOST_NS, "nsbox published"),
            "podman published 127.0.0.1": lambda: self.client(
                ["iperf3", "-c", "127.0.0.1", "-p", str(PORT_PODMAN)], HOST_NS, "podman published"),
            "nsbox published host address": lambda: self.client(
                ["iperf3", "-c", HOST_ADDR, "-p", str(PORT_NSBOX)], HOST_NS, "nsbox published"),
            "podman published host address": lambda: self.client(
                ["iperf3", "-c", HOST_ADDR, "-p", str(PORT_PODMAN)], HOST_NS, "podman published"),
        }


def paired(results: dict[str, list[float]], name: str) -> float:
    """Median over rounds of this path's throughput / raw veth's in the same round: drift and
    other users' load move both, so the ratio is steadier than a ratio of medians."""
    import statistics

    return statistics.median(v / r for v, r in zip(results[name], results["raw veth"]))


def report(results: dict[str, list[float]]) -> list[str]:
    raw = C.stats(results["raw veth"])["median"]
    lines = [f"{'path':<32} {'median Gbit/s':>14} {'min':>7} {'max':>7} {'vs raw (medians)':>17} "
             f"{'vs raw (paired)':>16}"]
    for name, values in results.items():
        s = C.stats(values)
        lines.append(f"{name:<32} {s['median']:>14.2f} {s['min']:>7.2f} {s['max']:>7.2f} "
                     f"{100 * s['median'] / raw:>16.1f}% {100 * paired(results, name):>15.1f}%")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--seconds", type=int, default=5, help="iperf3 -t of each measurement")
    ap.add_argument("--repeat", type=int, default=3, help="measurements of each path (interleaved)")
    ap.add_argument("--no-install", action="store_true", help="keep bench/.venv as it is")
    ap.add_argument("--json", action="store_true", help="the results as JSON on stdout")
    args = ap.parse_args()
    C.need_root("net.py")
    C.ensure_debian(["iperf3", "podman", "netavark", "iptables", "runc", "busybox-static", "nftables"])
    nsbox = C.nsbox_venv(install=not args.no_install)
    os.makedirs(WORKDIR, exist_ok=True)
    rootfs_nsbox = iperf_rootfs(os.path.join(WORKDIR, "rootfs-nsbox"))
    rootfs_podman = iperf_rootfs(os.path.join(WORKDIR, "rootfs-podman"))  # podman writes mount targets in it
    make_namespaces()
    b = Bench(nsbox, args.seconds)
    meter = C.LoadMeter()
    try:
        b.start(rootfs_nsbox, rootfs_podman)
        cases = b.cases(rootfs_nsbox, rootfs_podman)
        results: dict[str, list[float]] = {name: [] for name in cases}
        for r in range(args.repeat):
            for name, fn in cases.items():
                results[name].append(fn())
                C.log(f"[{r + 1}/{args.repeat}] {name}: {results[name][-1]:.2f} Gbit/s")
    finally:
        b.stop()
        delete_namespaces()
        C.remove_cgroup_parent()
    load = meter.stop(0.0)
    lines = report(results)
    for line in lines:
        C.log(line)
    C.log(f"load: {load['loadavg_before']} -> {load['loadavg_after']}, other users' cores: "
          f"{load['others_cores']}")
    data = {"bench": "net", "revision": C.git_revision(), "machine": C.machine_info(), "load": load,
            "seconds": args.seconds, "repeat": args.repeat,
            "results": {k: {"gbit_s": v, **C.stats(v)} for k, v in results.items()}, "table": lines}
    path = C.save_results("net", data)
    C.log(f"saved {path}")
    if args.json:
        print(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
