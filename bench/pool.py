"""Benchmark: ``nsbox.Pool.run(["/bin/true"])`` against bwrap, crun and runc on one busybox rootfs.

Per-call latency of ``pool.run`` measured in-process (the caller's view: from the
call to the Result), interleaved round by round with whole-process runs of the
other runtimes timed by the launcher (as run.py measures them), then sequential
and parallel throughput, then the RSS of a pool of 8 idle slots.  As root:

    bench/pool.sh [--runs N] [--warmup N] [--size N] [--seconds S] [--runtimes bwrap,crun,...]
                  [--no-install] [--json]

The script installs nsbox into bench/.venv (common.nsbox_venv) and re-executes
itself with that venv's interpreter, so the pool runs from a user's install.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import sys
import threading
import time

import common as C

OTHERS = ("bwrap", "crun", "runc", "floor")


def in_venv_argv(venv_py: str) -> list[str]:
    return [venv_py, os.path.abspath(__file__), "--in-venv", *sys.argv[1:]]


def latency(pool, launcher, others, runs: int, warmup: int, seed: int) -> dict[str, list[float]]:
    """Interleaved rounds: pool.run timed here, the others by the launcher (ms)."""
    rng = random.Random(seed)
    out: dict[str, list[float]] = {"pool": [], **{c.name: [] for c in others}}
    names = ["pool", *(c.name for c in others)]
    by_name = {c.name: c for c in others}
    for rnd in range(warmup + runs):
        order = names[:]
        rng.shuffle(order)
        for name in order:
            if name == "pool":
                t = time.perf_counter()
                r = pool.run(["/bin/true"])
                ms = (time.perf_counter() - t) * 1e3
                if r.returncode != 0:
                    C.die(f"pool.run(['/bin/true']) failed: {r!r}")
            else:
                c = by_name[name]
                s = launcher.run(c.argv(rnd), c.mntns)
                if s.status != 0:
                    C.die(f"{name} failed (wait status {s.status:#x})")
                ms = s.wall_ms
            if rnd >= warmup:
                out[name].append(ms)
    return out


def throughput(call, workers: int, seconds: float) -> float:
    """Runs per second of ``call(worker, i)`` from ``workers`` threads for ``seconds``."""
    done = [0] * workers
    stop = time.monotonic() + seconds

    def loop(w: int) -> None:
        i = 0
        while time.monotonic() < stop:
            call(w, i)
            i += 1
        done[w] = i

    t0 = time.monotonic()
    threads = [threading.Thread(target=loop, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0)


def process_memory(pid: int) -> dict:
    out = {"pid": pid}
    for line in C._read(f"/proc/{pid}/smaps_rollup").splitlines():
        key = line.split(":")[0]
        if key in ("Rss", "Pss", "Private_Dirty"):
            out[key.lower() + "_kib"] = int(line.split()[1])
    return out


def idle_rss(nsbox, rootfs: str, size: int, warm: int | None) -> dict:
    """The server and its warm sandboxes, per process, once the pool is idle."""
    with nsbox.Pool(size=size, warm=warm, rootfs=rootfs) as pool:
        pool.run(["/bin/true"])
        time.sleep(1.0)
        kids = [int(p) for p in C._read(f"/proc/{pool.pid}/task/{pool.pid}/children").split()]
        procs = [dict(process_memory(pool.pid), role="server")]
        procs += [dict(process_memory(k), role="sandbox (warm)") for k in kids]
    return {"size": size, "warm": warm if warm is not None else "default", "processes": procs,
            "rss_total_kib": sum(p.get("rss_kib", 0) for p in procs),
            "pss_total_kib": sum(p.get("pss_kib", 0) for p in procs)}


def measure(a) -> dict:
    import nsbox.pool as nsbox  # the bench venv's install

    sys.path.insert(0, C.BENCH)
    import run as R

    launcher_bin = C.build_launcher()
    rootfs = C.busybox_rootfs()
    for d in ("nsbox", "runc", "crun"):
        os.makedirs(f"{C.STATE}/{d}", exist_ok=True)
    wanted = [n for n in a.runtimes.split(",") if n]
    view = C.V1View() if C.cgroup_layout() == "hybrid" and "crun" in wanted else None
    others = R.cases("", rootfs, view, wanted, ["/bin/true"])
    launcher = C.Launcher(launcher_bin, C.CLEAN_ENV, os.path.join(C.WORK, "launch.stderr"))
    import nsbox as top

    top.configure(root=C.CLEAN_ENV["NSBOX_ROOT"], cgroup_parent=C.CLEAN_ENV["NSBOX_CGROUP_PARENT"])
    res: dict = {"machine": C.machine_info(), "config": vars(a)}
    try:
        meter = C.LoadMeter()
        with nsbox.Pool(size=a.size, rootfs=rootfs) as pool:
            C.log(f"latency: {a.warmup} + {a.runs} interleaved rounds of pool, {', '.join(wanted)}")
            lat = latency(pool, launcher, others, a.runs, a.warmup, a.seed)
            res["latency_ms"] = {k: C.stats(v) for k, v in lat.items()}
            C.log(f"sequential throughput: {a.seconds} s each")
            res["sequential_per_s"] = {"pool": throughput(lambda w, i: pool.run(["/bin/true"]), 1, a.seconds)}
        for c in others:
            if c.name == "floor" or c.name == "bwrap":
                res["sequential_per_s"][c.name] = throughput(
                    lambda w, i, c=c: launcher.run(c.argv(i), c.mntns), 1, a.seconds)
        workers = 2 * (os.cpu_count() or 1)
        C.log(f"parallel throughput: {workers} callers, {a.seconds} s each")
        with nsbox.Pool(size=workers, rootfs=rootfs) as pool:
            pool.run(["/bin/true"])
            res["parallel_per_s"] = {"pool": throughput(lambda w, i: pool.run(["/bin/true"]), workers, a.seconds)}
        bw = next((c for c in others if c.name == "bwrap"), None)
        if bw is not None:
            launchers = [C.Launcher(launcher_bin, C.CLEAN_ENV, os.path.join(C.WORK, f"launch{w}.stderr"))
                         for w in range(workers)]
            try:
                res["parallel_per_s"]["bwrap"] = throughput(lambda w, i: launchers[w].run(bw.argv(i)), workers,
                                                            a.seconds)
            finally:
                for x in launchers:
                    x.close()
        res["load"] = meter.stop(0.0)
        C.log("idle memory: 8 slots")
        res["idle_memory"] = [idle_rss(nsbox, rootfs, 8, None), idle_rss(nsbox, rootfs, 8, 8)]
    finally:
        launcher.close()
        if view:
            view.close()
        C.remove_cgroup_parent()
    res["notes"] = {c.name: c.note for c in others}
    return res


def report(res: dict) -> str:
    lat = res["latency_ms"]
    lines = [f"nsbox.Pool.run(['/bin/true']) vs whole-process runtimes, {res['config']['runs']} interleaved "
             f"rounds; machine {res['machine']['cpus']} CPUs, kernel {res['machine']['kernel']}, cgroups "
             f"{res['machine']['cgroups']}; load avg {' '.join(res['load']['loadavg_before'])} before, "
             f"others used {res['load']['others_cores']} cores",
             "", f"{'':<10}{'p50 ms':>9}{'p90 ms':>9}{'min ms':>9}"]
    for name, s in lat.items():
        lines.append(f"{name:<10}{s['median']:>9.2f}{s['p90']:>9.2f}{s['min']:>9.2f}")
    if "bwrap" in lat:
        lines.append(f"pool p50 / bwrap p50: {lat['pool']['median'] / lat['bwrap']['median']:.2f}")
    if "floor" in lat:
        lines.append(f"pool p50 / floor p50: {lat['pool']['median'] / lat['floor']['median']:.2f}")
    lines.append("sequential runs/s: " + ", ".join(f"{k} {v:.0f}" for k, v in res["sequential_per_s"].items()))
    lines.append("parallel runs/s:   " + ", ".join(f"{k} {v:.0f}" for k, v in res["parallel_per_s"].items()))
    for m in res["idle_memory"]:
        per = ", ".join(f"{p['role']} {p.get('rss_kib', 0) / 1024:.1f}" for p in m["processes"])
        lines.append(f"idle pool size={m['size']} warm={m['warm']}: RSS {m['rss_total_kib'] / 1024:.1f} MiB "
                     f"in all (PSS {m['pss_total_kib'] / 1024:.1f} MiB); RSS per process MiB: {per}")
    for name, note in res["notes"].items():
        lines.append(f"{name}: {note}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/pool.sh", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100, help="measured rounds (default 100)")
    ap.add_argument("--warmup", type=int, default=10, help="discarded rounds first (default 10)")
    ap.add_argument("--size", type=int, default=4, help="slots of the latency pool (default 4)")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each throughput phase (default 3)")
    ap.add_argument("--runtimes", default=",".join(OTHERS), help=f"comma list from {','.join(OTHERS)}")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-install", action="store_true", help="use bench/.venv's nsbox as installed")
    ap.add_argument("--json", action="store_true", help="print the results as JSON (the report goes to stderr)")
    ap.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    C.need_root("bench/pool.py")
    if not a.in_venv:
        C.ensure_debian(["runc", "crun", "bubblewrap", "busybox-static", "gcc", "libc6-dev"])
        C.nsbox_venv(install=not a.no_install)
        py = os.path.join(C.VENV, "bin", "python")
        os.execv(py, in_venv_argv(py))
    res = measure(a)
    res["date"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    res["command"] = " ".join(shlex.quote(x) for x in ["bench/pool.sh", *(x for x in sys.argv[1:] if x != "--in-venv")])
    res["results_file"] = C.save_results("pool", res)
    text = report(res)
    if a.json:
        C.log(text)
        json.dump(res, sys.stdout, indent=1)
        print()
    else:
        print(text)
        print(f"results: {res['results_file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
