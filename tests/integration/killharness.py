"""SIGKILL nsbox at random moments of start-up and count what it leaves on the host.

Used by test_kill_harness.py; also runnable by hand for a longer hunt::

    sudo .venv/bin/python -m tests.integration.killharness --runs 200 [--rootless] [--variant tar]

Every container is named ``rtk<tag>``, runs ``sh -c 'sleep 1000; :' 7rtk<tag>``, so each kind of
leftover can be attributed: state directories (``.new-*`` included) and names
in the state root, cgroups under the session's cgroup parent, mounts naming
the state root or the container, /run/netns registrations, processes whose
command line carries the tag (nsbox itself, its forks before execve, the
container's command).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path


def _tag() -> str:
    return f"{random.randrange(10**8, 10**9)}.{os.getpid() % 1000}"


def processes_with(tag: str) -> list[str]:
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if tag in cmd:
            out.append(f"{d.name} {cmd.strip()}")
    return out


def cgroups(parent: str) -> list[str]:
    found = []
    for base in Path("/sys/fs/cgroup").glob("*" + parent):
        found += [str(p) for p in base.rglob("*") if p.is_dir()]
    unified = Path("/sys/fs/cgroup" + parent)
    if unified.is_dir():
        found += [str(p) for p in unified.rglob("*") if p.is_dir()]
    return sorted(set(found))


def mounts(*needles: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.strip() for line in f if any(n in line for n in needles)]


def netns(prefix: str) -> list[str]:
    try:
        return [n for n in os.listdir("/run/netns") if n.startswith(prefix)]
    except OSError:
        return []


def veths() -> set[str]:
    """Host ends of container veth pairs (net/bridge.py host_ifname: veth + 11 hex)."""
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return set()
    return {n for n in names if re.fullmatch(r"veth[0-9a-f]{11}", n)}


def live_container_prefixes() -> set[str]:
    """veth names of containers that exist in any state root on the machine (others'
    tests run too): "veth" + the first 11 characters of the id."""
    import glob

    out = set()
    for pattern in ("/run/nsbox*/containers/*", "/tmp/nsbox*/containers/*", "/run/user/*/nsbox/containers/*"):
        for d in glob.glob(pattern):
            out.add("veth" + os.path.basename(d)[-64:][:11])
    return out


def helpers() -> set[str]:
    """Network helpers a container may have started (pasta, slirp4netns)."""
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                comm = (d / "comm").read_text().strip()
            except OSError:
                continue
            if comm in ("pasta", "passt", "slirp4netns", "pasta.avx2"):
                try:
                    where = os.readlink(d / "cwd")
                except OSError:
                    where = "?"
                args = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                out.add(f"{d.name} {comm} (in {where}): {args.strip()}")
    return out


def snapshot() -> dict[str, set[str]]:
    """What exists before a hunt: others' veths and helpers are not ours."""
    return {"veths": veths(), "net helpers": helpers()}


def state(root: str) -> list[str]:
    out = []
    for sub in ("containers", "names"):
        try:
            names = os.listdir(f"{root}/{sub}")
        except OSError:
            continue
        for n in names:
            detail = ""
            try:
                with open(f"{root}/{sub}/{n}/state.json") as f:
                    import json

                    st = json.load(f)
                detail = f" ({st.get('status')}, name {st.get('name')}, pid {st.get('pid')})"
            except (OSError, ValueError):
                pass
            out.append(f"{sub}/{n}{detail}")
    return out


def leftovers(root: str, cgroup_parent: str, prefix: str = "rtk",
              before: dict[str, set[str]] | None = None) -> dict[str, list[str]]:
    before = before or snapshot()
    found = {
        "veths": sorted(veths() - before["veths"] - live_container_prefixes()),
        "net helpers": sorted(h for h in helpers() - before["net helpers"] if f"(in {root}" in h),
        "state": state(root),
        "cgroups": cgroups(cgroup_parent),
        "mounts": mounts(root, f"/{prefix}"),
        "netns": netns(prefix),
        "processes": processes_with(f"7{prefix}") + processes_with(f"{prefix}-"),
    }
    return {k: v for k, v in found.items() if v}


VARIANTS: dict[str, tuple[str, ...]] = {
    "default": (),
    "dir": ("--rootfs", "{busybox}"),
    "tar": ("--rootfs", "{tarball}"),
    "userns": ("--userns", "auto"),
    "init": ("--init",),
    "limits": ("--memory", "64m", "--pids-limit", "50"),
    # networking (issue: bridge networks, pasta/slirp4netns)
    "bridge": ("--network", "bridge"),
    "publish": ("--network", "bridge", "-p", "127.0.0.1:{port}:80"),
    "pasta": ("--network", "pasta"),
    "slirp": ("--network", "slirp4netns"),
}


def kill_once(argv_for, env: dict, args: tuple[str, ...], delay: float, tag: str) -> None:
    """Start ``nsbox run --name rtk-TAG ARGS -- sh -c .. 7rtkTAG`` and SIGKILL it after ``delay``."""
    p = subprocess.Popen(argv_for("run", "--name", f"rtk-{tag}", *args, "--", "sh", "-c", "sleep 1000; :",
                                 f"7rtk{tag}"),
                         env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    p.stderr.close()


def wait_gone(tag: str, timeout: float = 5) -> list[str]:
    """The container dies with its supervisor (parent death signal): wait for it."""
    end = time.monotonic() + timeout
    while True:
        left = processes_with(f"7rtk{tag}") + processes_with(f"rtk-{tag}")
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.02)


def hunt(argv_for, env: dict, root: str, cgroup_parent: str, variant_args: tuple[str, ...], runs: int,
         max_delay: float = 0.3, seed: int | None = None) -> dict[str, list[str]]:
    """Kill ``runs`` starts; after each, the survivors; after all, one ``nsbox ps``-like
    command (a plain run) must collect the rest.  Returns every leftover found."""
    rnd = random.Random(seed)
    problems: dict[str, list[str]] = {}
    before = snapshot()
    for _ in range(runs):
        tag = _tag()
        delay = rnd.uniform(0, max_delay)
        kill_once(argv_for, env, variant_args, delay, tag)
        alive = wait_gone(tag)
        if alive:
            problems.setdefault("survivors", []).extend(f"{delay:.3f}s: {x}" for x in alive)
    r = subprocess.run(argv_for("run", "--", "true"), env=env, cwd="/", capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        problems.setdefault("next command failed", []).append(r.stderr.strip())
    left = leftovers(root, cgroup_parent, before=before)
    end = time.monotonic() + 3
    while left and time.monotonic() < end:  # a helper may still be exiting (no cmdline, no cwd)
        time.sleep(0.1)
        left = leftovers(root, cgroup_parent, before=before)
    for k, v in left.items():
        problems.setdefault(k, []).extend(v)
    return problems


def _killed(argv: list[str], env: dict, delay: float) -> None:
    p = subprocess.Popen(argv, env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)


def _call(argv_for, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv_for(*args), env=env, cwd="/", capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def hunt_lifecycle(argv_for, env: dict, root: str, cgroup_parent: str, kind: str, runs: int,
                   max_delay: float = 0.3, seed: int | None = None,
                   extra: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """SIGKILL ``run -d`` (then ``rm -f``), ``exec`` (then ``rm -f`` of its
    container) or ``rm -f`` itself (then ``rm -f`` again) at random moments."""
    rnd = random.Random(seed)
    problems: dict[str, list[str]] = {}
    before = snapshot()
    for _ in range(runs):
        tag = _tag()
        name = f"rtk-{tag}"
        cmd = ("--", "sh", "-c", "sleep 1000; :", f"7rtk{tag}")
        delay = rnd.uniform(0, max_delay)
        if kind == "run-d":
            _killed(argv_for("run", "-d", "--name", name, *extra, *cmd), env, delay)
        else:
            r = _call(argv_for, env, "run", "-d", "--name", name, *extra, *cmd)
            if r.returncode != 0:
                problems.setdefault("run -d failed", []).append(r.stderr.strip())
                continue
            if kind == "exec":
                _killed(argv_for("exec", name, "sh", "-c", "sleep 1000; :", f"7rtk{tag}x"), env, delay)
            elif kind == "rm":
                _killed(argv_for("rm", "-f", name), env, delay)
        r = _call(argv_for, env, "rm", "-f", name)
        if r.returncode != 0 and "no such container" not in r.stderr:
            problems.setdefault("rm -f failed", []).append(f"{delay:.3f}s: {r.stderr.strip()}")
        alive = wait_gone(tag)
        if alive:
            problems.setdefault("survivors of rm -f", []).extend(f"{delay:.3f}s: {x}" for x in alive)
    r = _call(argv_for, env, "ps", "-a")
    if r.returncode != 0:
        problems.setdefault("next command failed", []).append(r.stderr.strip())
    left = leftovers(root, cgroup_parent, before=before)
    end = time.monotonic() + 3
    while left and time.monotonic() < end:
        time.sleep(0.1)
        left = leftovers(root, cgroup_parent, before=before)
    for k, v in left.items():
        problems.setdefault(k, []).extend(v)
    return problems


def _main() -> None:
    import argparse
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--variant", default="default", choices=sorted(VARIANTS))
    ap.add_argument("--rootless", action="store_true")
    ap.add_argument("--busybox", default="")
    ap.add_argument("--tarball", default="")
    ap.add_argument("--max-delay", type=float, default=0.3)
    ap.add_argument("--lifecycle", choices=("run-d", "exec", "rm"), help="kill this command instead of run")
    a = ap.parse_args()
    nsbox = str(Path(sys.executable).parent / "nsbox")
    root = f"/run/nsbox-rtk-{os.getpid()}" if not a.rootless else f"/tmp/nsbox-rtk-{os.getpid()}"
    parent = f"/nsbox-rtk-{os.getpid()}"
    env = dict(os.environ, NSBOX_ROOT=root, NSBOX_CGROUP_PARENT=parent)

    def argv_for(*args: str) -> list[str]:
        if not a.rootless:
            return [nsbox, *args]
        return ["setpriv", "--reuid=nsboxtest", "--regid=nsboxtest", "--init-groups", "env",
                f"NSBOX_ROOT={root}", nsbox, *args]

    args = tuple(x.format(busybox=a.busybox, tarball=a.tarball, port=random.randrange(20000, 30000))
                 for x in VARIANTS[a.variant])
    if a.lifecycle:
        problems = hunt_lifecycle(argv_for, env, root, parent, a.lifecycle, a.runs, a.max_delay, extra=args)
    else:
        problems = hunt(argv_for, env, root, parent, args, a.runs, a.max_delay)
    for k, v in problems.items():
        print(f"{k}: {len(v)}")
        for x in v[:10]:
            print("   ", re.sub(r"\s+", " ", x)[:300])
    print("clean" if not problems else "LEAKS")
    if not problems:
        subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    _main()
