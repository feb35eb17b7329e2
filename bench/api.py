"""Benchmark: ``nsbox.run(["/bin/true"], rootfs=...)`` timed in-process, against
``runc run``, ``crun run`` and ``nsbox run`` as whole processes on the same config.

The API pays no interpreter start-up: a long-lived Python process (the bench venv's,
as an application would run) imports nsbox once and times each call with
CLOCK_MONOTONIC around ``nsbox.run``.  The other runtimes are timed by the C
launcher as in run.py (fork of the command to its reaping).  Each round runs every
case once in a new random order.  Usage (as root):

    /usr/bin/python3 bench/api.py [--runs N] [--warmup N] [--no-install] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time

import common as C
import run as R

# The in-process side: one call per line read, its wall time in ms and its own
# RSS (the whole process's, in KiB) written back.
SERVER = r"""
import os, resource, sys, time
import nsbox
nsbox.configure(root=sys.argv[2], cgroup_parent=sys.argv[3])
rootfs = sys.argv[1]
for line in sys.stdin:
    t = time.monotonic()
    r = nsbox.run(["/bin/true"], rootfs=rootfs, share=["time"], stdout=None, stderr=None)
    ms = (time.monotonic() - t) * 1000
    with open("/proc/self/status") as f:
        rss = next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
    print(f"{ms:.3f} {rss} {r.returncode}", flush=True)
"""


class ApiServer:
    def __init__(self, python: str, rootfs: str) -> None:
        self.proc = subprocess.Popen([python, "-c", SERVER, rootfs, f"{C.STATE}/nsbox-api",
                                      f"{C.CGROUP_PARENT}/nsbox-api"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=C.CLEAN_ENV, cwd="/", text=True)

    def run(self) -> tuple[float, int]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        if len(line) != 3 or line[2] != "0":
            C.die(f"nsbox.run failed: {line}")
        return float(line[0]), int(line[1])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


def measure(server: ApiServer, launcher: C.Launcher, cases: list[C.Case], runs: int, warmup: int,
            seed: int) -> dict[str, list[float]]:
    rng = random.Random(seed)
    wall: dict[str, list[float]] = {"nsbox.run (API)": []}
    wall.update({c.name: [] for c in cases})
    rss: list[int] = []
    for rnd in range(warmup + runs):
        order: list[C.Case | None] = [None, *cases]
        rng.shuffle(order)
        for c in order:
            if c is None:
                ms, kib = server.run()
                if rnd >= warmup:
                    wall["nsbox.run (API)"].append(ms)
                    rss.append(kib)
                continue
            s = launcher.run(c.argv(rnd), c.mntns)
            if s.status != 0:
                C.die(f"{c.name} failed (wait status {s.status:#x})\n{launcher.stderr_tail()}")
            if rnd >= warmup:
                wall[c.name].append(s.wall_ms)
    wall["_api_rss_kib"] = [float(x) for x in rss]
    return wall


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/api.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-apt", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    C.need_root("bench/api.py")
    if not a.no_apt:
        C.ensure_debian(R.PACKAGES)
    nsbox = C.nsbox_venv(install=not a.no_install)
    python = os.path.join(C.VENV, "bin", "python")
    launcher_bin = C.build_launcher()
    rootfs = C.busybox_rootfs()
    for d in ("nsbox", "nsbox-api", "runc", "crun"):
        os.makedirs(f"{C.STATE}/{d}", exist_ok=True)
    view = C.V1View() if C.cgroup_layout() == "hybrid" else None
    launcher = server = None
    try:
        cases = R.cases(nsbox, rootfs, view, ["nsbox", "runc", "crun", "floor"], ["/bin/true"])
        launcher = C.Launcher(launcher_bin, C.CLEAN_ENV, os.path.join(C.WORK, "launch.stderr"))
        server = ApiServer(python, rootfs)
        meter = C.LoadMeter()
        wall = measure(server, launcher, cases, a.runs, a.warmup, a.seed)
        load = meter.stop(0.0)
    finally:
        if server:
            server.close()
        if launcher:
            launcher.close()
        if view:
            view.close()
        C.remove_cgroup_parent()
    rss = wall.pop("_api_rss_kib")
    res = {"bench": "api", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "revision": C.git_revision(), "machine": C.machine_info(), "load": load,
           "config": {"runs": a.runs, "warmup": a.warmup, "seed": a.seed, "oci_config": R.CONFIG_SOURCE},
           "wall_ms": {k: C.stats(v) for k, v in wall.items()},
           "api_process_rss_kib": C.stats(rss) if rss else None}
    api = res["wall_ms"]["nsbox.run (API)"]["median"]
    res["ratios"] = {f"nsbox.run (API)/{k}": api / v["median"] for k, v in res["wall_ms"].items()
                     if k != "nsbox.run (API)"}
    res["results_file"] = C.save_results("api", res)
    lines = [f"nsbox.run(['/bin/true']) in-process vs whole runtimes, {a.runs} interleaved rounds, {res['date']}",
             f"load avg {' '.join(load['loadavg_before'])} before, {' '.join(load['loadavg_after'])} after",
             f"{'case':<20}{'median ms':>11}{'p90':>9}{'min':>9}"]
    for k, v in res["wall_ms"].items():
        lines.append(f"{k:<20}{v['median']:>11.2f}{v['p90']:>9.2f}{v['min']:>9.2f}")
    lines += [f"{k}: {r:.2f}" for k, r in res["ratios"].items()]
    if rss:
        lines.append(f"API process RSS: median {res['api_process_rss_kib']['median']:.0f} KiB "
                     f"(whole Python process, nsbox imported)")
    text = "\n".join(lines)
    if a.json:
        C.log(text)
        json.dump(res, sys.stdout, indent=1)
    else:
        print(text)
        print(f"results: {res['results_file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
