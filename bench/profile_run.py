"""Where ``nsbox run /bin/true`` spends its time and memory (a companion of run.py).

Four views, each over several runs of the installed entry point (bench/.venv):
1. baselines through the same launcher: the interpreter alone, ``nsbox --version``, a full run;
2. the NSBOX_TRACE=1 stage marks, as offsets from the launcher's fork (same clock);
3. ``python -X importtime``: what the imports cost, by module;
4. ``strace -f -T``: the slowest system calls (time inside the kernel), grouped;
5. ``perf record`` (cpu-clock): CPU time per process (main, intermediate, init) and per code
   (the interpreter, the kernel, libc and the loader).
Usage (as root): /usr/bin/python3 bench/profile_run.py [--runs N] [--json] [--no-install]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

import common as C
import run as R

WAITS = {"read", "recvmsg", "recvfrom", "wait4", "waitid", "poll", "ppoll", "select", "pselect6", "futex",
         "epoll_wait", "epoll_pwait", "nanosleep", "clock_nanosleep", "pause", "rt_sigsuspend"}
HEX_ID = re.compile(r"[0-9a-f]{32,64}")


def med(v: list[float]) -> float:
    return statistics.median(v) if v else float("nan")


def baselines(launcher: C.Launcher, nsbox: str, rootfs: str, runs: int) -> dict:
    py = os.path.join(C.VENV, "bin", "python")
    cases = [C.Case("python -c pass", [py, "-c", "pass"]),
             C.Case("python -S -c pass", [py, "-S", "-c", "pass"]),
             C.Case("python -I -S -c pass", [py, "-I", "-S", "-c", "pass"]),
             C.Case("nsbox --version", [nsbox, "--version"]),
             C.Case("nsbox run /bin/true", [nsbox, "run", "--share", "time", "--rootfs", rootfs, "--", "/bin/true"])]
    got = C.interleaved(launcher, cases, runs, 2)
    return {k: {"wall_ms": med([s.wall_ms for s in v]), "wall_p10": C.percentile(sorted(s.wall_ms for s in v), 10),
                "cpu_ms": med([s.cpu_ms for s in v]), "maxrss_kib": med([s.maxrss_kib for s in v])}
            for k, v in got.items()}


def trace(launcher_bin: str, nsbox: str, rootfs: str, runs: int) -> dict:
    """Median offset (ms from the launcher's fork) of every NSBOX_TRACE mark."""
    errpath = os.path.join(C.WORK, "trace.stderr")
    launcher = C.Launcher(launcher_bin, dict(C.CLEAN_ENV, NSBOX_TRACE="1"), errpath)
    argv = [nsbox, "run", "--share", "time", "--rootfs", rootfs, "--", "/bin/true"]
    offsets: dict[str, list[float]] = {}
    pos = 0
    try:
        for i in range(runs + 2):
            s = launcher.run(argv)
            launcher._err.flush()
            with open(errpath) as f:
                f.seek(pos)
                text = f.read()
                pos = f.tell()
            if s.status != 0:
                C.die(f"traced run failed: {text[-500:]}")
            if i < 2:
                continue
            for m in re.finditer(r"\[trace (\d+) ([\d.]+)\] (.*)", text):
                offsets.setdefault(m.group(3), []).append(float(m.group(2)) - s.t0_ns / 1e6)
            offsets.setdefault("(reaped by the launcher)", []).append(s.wall_ms)
    finally:
        launcher.close()
    # median and p10 (nearer what a quiet machine gives); stages ordered by median
    return {k: {"median": med(v), "p10": C.percentile(sorted(v), 10)}
            for k, v in sorted(offsets.items(), key=lambda kv: med(kv[1]))}


def importtime(nsbox: str, rootfs: str, runs: int) -> dict:
    """Median self/cumulative import time (µs) per module, main process and children alike."""
    py = os.path.join(C.VENV, "bin", "python")
    per: dict[str, list[int]] = {}
    cum: dict[str, list[int]] = {}
    totals = []
    for _ in range(runs):
        r = subprocess.run([py, "-X", "importtime", nsbox, "run", "--share", "time", "--rootfs", rootfs, "--",
                            "/bin/true"], capture_output=True, text=True, env=C.CLEAN_ENV, cwd=C.WORK)
        total = 0
        for m in re.finditer(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", r.stderr):
            per.setdefault(m.group(4), []).append(int(m.group(1)))
            cum.setdefault(m.group(4), []).append(int(m.group(2)))
            total += int(m.group(1))
        totals.append(total)
    mods = {k: {"self_us": med(v), "cumulative_us": med(cum[k])} for k, v in per.items()}
    groups: dict[str, float] = {}
    for k, v in mods.items():
        g = "nsbox" if k.startswith("nsbox") else ("site + .pth" if k in ("site", "_distutils_hack")
                                                  or k.startswith("_sitebuiltins") else "stdlib")
        groups[g] = groups.get(g, 0.0) + v["self_us"]
    top = sorted(mods.items(), key=lambda kv: -kv[1]["self_us"])[:20]
    return {"total_us": med(totals), "groups_us": groups, "top_self": dict(top), "modules": mods}


def strace(nsbox: str, rootfs: str, runs: int) -> dict:
    """Time inside the kernel per (syscall, object), blocking waits excluded; median over runs."""
    sums: dict[str, list[float]] = {}
    counts = []
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
            subprocess.run(["strace", "-f", "-T", "-y", "-o", out.name, nsbox, "run", "--share", "time", "--rootfs",
                            rootfs, "--", "/bin/true"], env=C.CLEAN_ENV, cwd=C.WORK, check=True,
                           stdout=subprocess.DEVNULL)
            lines = out.read().splitlines()
        run: dict[str, float] = {}
        pending: dict[str, str] = {}
        n = 0
        for line in lines:
            pid, _, rest = line.partition(" ")
            rest = rest.lstrip()  # strace pads short pids
            m = re.match(r"(\w+)\((.*)", rest)
            if rest.endswith("<unfinished ...>") and m:
                pending[pid] = rest
                continue
            r2 = re.match(r"<\.\.\. (\w+) resumed>", rest)
            if r2:
                rest = pending.pop(pid, rest)
                m = re.match(r"(\w+)\((.*)", rest)
            t = re.search(r"<([\d.]+)>\s*$", line)
            if not (m and t):
                continue
            n += 1
            name, args = m.group(1), m.group(2)
            if name in WAITS or "fifo" in line or "/proc/self/fd/" in args and name == "openat" and "O_WRONLY" in args:
                # the exec fifo's open (through /proc/self/fd) blocks until start
                continue
            run[key(name, args)] = run.get(key(name, args), 0.0) + float(t.group(1)) * 1000
        counts.append(n)
        for k, v in run.items():
            sums.setdefault(k, []).append(v)
    top = sorted(((k, med(v)) for k, v in sums.items()), key=lambda kv: -kv[1])[:25]
    return {"syscalls": med(counts), "top_ms": dict(top)}


def perf(nsbox: str, rootfs: str, runs: int) -> dict:
    """CPU ms per (process, code) from perf's cpu-clock samples (period = ns); median over runs."""
    if subprocess.run(["sh", "-c", "command -v perf"], capture_output=True).returncode != 0:
        return {}
    got: dict[str, list[float]] = {}
    for _ in range(runs):
        with tempfile.NamedTemporaryFile(suffix=".perf") as data:
            r = subprocess.run(["perf", "record", "-q", "-F", "10000", "-o", data.name, "--", nsbox, "run",
                                "--share", "time", "--rootfs", rootfs, "--", "/bin/true"],
                               env=C.CLEAN_ENV, cwd=C.WORK, capture_output=True, text=True)
            rep = subprocess.run(["perf", "report", "-i", data.name, "--sort", "pid,dso", "-F", "period,pid,dso",
                                  "--stdio"], capture_output=True, text=True).stdout
        if r.returncode != 0:
            return {"error": r.stderr.strip()[-300:]}
        rows = [m.groups() for m in re.finditer(r"^\s*(\d+)\s+(\d+):(\S+)\s+(\S+)", rep, re.M)]
        pids = sorted({int(p) for _, p, _, _ in rows})
        one: dict[str, float] = {}
        for period, pid, comm, dso in rows:
            role = ("main" if int(pid) == pids[0] else "init (then the container)" if comm != "nsbox"
                    else "other children (intermediate, prewarm)")
            code = ("kernel" if "kernel" in dso else "libc + loader" if dso.startswith(("libc", "ld-"))
                    else "interpreter" if "python" in dso or ".cpython-" in dso or "libffi" in dso else "other")
            one[f"{role}: {code}"] = one.get(f"{role}: {code}", 0.0) + int(period) / 1e6
        for k, v in one.items():
            got.setdefault(k, []).append(v)
    return dict(sorted(((k, med(v)) for k, v in got.items()), key=lambda kv: -kv[1]))


def key(name: str, args: str) -> str:
    """Group a syscall by what it touches: a cgroup file, a mount point, a .pyc..."""
    fd = re.match(r"(?:AT_FDCWD|-?\d+)<([^>]*)>", args)  # strace -y: an fd shown with its path
    quoted = re.search(r'"([^"]*)"', args)
    p = quoted.group(1) if quoted else ""
    if name.endswith(("at", "at2")) and p:  # a path relative to a directory fd (or the cwd)
        p = p if p.startswith("/") or not fd else f"{fd.group(1)}/{p}"
    elif fd:
        p = fd.group(1)
    p = re.sub(r"\.\d+\.tmp$", ".PID.tmp", HEX_ID.sub("<id>", p))
    if p.startswith(("pipe:", "socket:", "anon_inode:")):
        p = p.split(":")[0]
    if "/sys/fs/cgroup/" in p:
        p = re.sub(r"/sys/fs/cgroup/[^/]+/", "/sys/fs/cgroup/*/", p)
    elif p.endswith(".pyc") or p.endswith(".py") or "python3" in p:
        p = "(python modules)"
    elif p.startswith("/run/") or C.STATE in p:
        p = re.sub(r"/[^/]*<id>[^/]*", "/<id>", p)
    flags = ""
    if name in ("unshare", "clone", "clone3", "setns"):
        flags = " " + re.split(r"[,)]| <", args, maxsplit=1)[0][:80]
    return f"{name} {p}{flags}".strip()


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/profile_run.py", description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-install", action="store_true")
    a = ap.parse_args()
    C.need_root("bench/profile_run.py")
    C.ensure_debian(R.PACKAGES + ["strace"])
    nsbox = C.nsbox_venv(install=not a.no_install)
    lb = C.build_launcher()
    rootfs = C.busybox_rootfs()
    os.makedirs(f"{C.STATE}/nsbox", exist_ok=True)
    meter = C.LoadMeter()
    launcher = C.Launcher(lb, C.CLEAN_ENV, os.path.join(C.WORK, "launch.stderr"))
    try:
        base = baselines(launcher, nsbox, rootfs, a.runs)
        res = {"bench": "profile_run", "revision": C.git_revision(), "machine": C.machine_info(),
               "baselines": base, "trace_ms": trace(lb, nsbox, rootfs, a.runs),
               "importtime": importtime(nsbox, rootfs, max(3, a.runs // 4)),
               "strace": strace(nsbox, rootfs, max(3, a.runs // 4)),
               "perf_cpu_ms": perf(nsbox, rootfs, max(5, a.runs // 2))}
    finally:
        launcher.close()
        C.remove_cgroup_parent()  # the parent of nsbox's own (/nsboxbench): nothing of ours stays
    res["load"] = meter.stop(0.0)
    res["results_file"] = C.save_results("profile_run", res)
    text = report(res)
    if a.json:
        C.log(text)
        json.dump(res, sys.stdout, indent=1)
        print()
    else:
        print(text)
    return 0


def report(res: dict) -> str:
    out = [f"load avg {' '.join(res['load']['loadavg_before'])}, CPUs busy {res['load']['cpu_busy_pct']}%",
           "", "baselines                       wall ms (median, p10)   CPU ms  peak RSS KiB"]
    for k, v in res["baselines"].items():
        out.append(f"  {k:<28}{v['wall_ms']:>9.2f}{v['wall_p10']:>9.2f}{v['cpu_ms']:>14.2f}{v['maxrss_kib']:>14.0f}")
    out += ["", "NSBOX_TRACE marks: ms after the launcher's fork, median (+ stage) and p10 (+ stage)"]
    prev = prev10 = 0.0
    for k, v in res["trace_ms"].items():
        m, p10 = v["median"], v["p10"]
        out.append(f"  {m:8.2f} (+{m - prev:6.2f})  {p10:8.2f} (+{p10 - prev10:6.2f})  {k}")
        prev, prev10 = v["median"], v["p10"]
    imp = res["importtime"]
    out += ["", f"imports (python -X importtime, all processes): {imp['total_us'] / 1000:.2f} ms self time; "
            + ", ".join(f"{g} {us / 1000:.2f} ms" for g, us in sorted(imp["groups_us"].items(), key=lambda x: -x[1]))]
    for k, v in list(imp["top_self"].items())[:15]:
        out.append(f"  {v['self_us'] / 1000:6.2f} ms self  {v['cumulative_us'] / 1000:6.2f} ms cumulative  {k}")
    st = res["strace"]
    out += ["", f"slowest system calls (strace -f -T, time in the kernel, waits excluded; {st['syscalls']:.0f} "
            "syscalls per run, strace inflates the total)"]
    for k, v in list(st["top_ms"].items())[:20]:
        out.append(f"  {v:7.2f} ms  {k}")
    if res.get("perf_cpu_ms"):
        out += ["", "CPU time by process and code (perf record cpu-clock, median ms per run)"]
        for k, v in res["perf_cpu_ms"].items():
            out.append(f"  {v:7.2f} ms  {k}" if isinstance(v, float) else f"  {k}: {v}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
