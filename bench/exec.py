"""Benchmark: ``nsbox exec NAME /bin/true`` against ``runc exec`` and ``crun exec``.

One long-running container per runtime on the same busybox rootfs and the same
OCI config (nsbox's own, as bench/run.py gives runc and crun: Docker's
capabilities, no_new_privs, the seccomp profile, the same six namespaces), then
interleaved ``exec /bin/true`` runs timed by the launcher (wall time from the
fork of the exec command to its reaping; peak RSS; CPU).  Usage (as root):

    /usr/bin/python3 bench/exec.py [--runs N] [--warmup N] [--json] [--runtimes nsbox,runc,crun,...]
                                   [--no-install] [--no-apt]

crun 1.8 refuses this machine's hybrid cgroup layout even with
``--cgroup-manager=disabled``: its container is created and exec'd in a mount
namespace without the cgroup2 mount (common.V1View); ``crun-nocg`` is crun with
no cgroup at all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import common as C
import run as R

PACKAGES = ["runc", "crun", "busybox-static", "gcc", "libc6-dev", "util-linux"]
ORDER = ("nsbox", "nsbox-unconfined", "runc", "crun", "crun-nocg", "floor")
RATIOS = (("nsbox", "runc"), ("nsbox", "crun"), ("nsbox", "crun-nocg"))
SLEEP = ["/bin/sleep", "1000000"]
PROBE = ("for n in cgroup ipc mnt net pid time user uts; do "
         "[ \"$(readlink /proc/self/ns/$n)\" = \"$(readlink /proc/1/ns/$n)\" ] || echo differs $n; done; "
         "cmp -s /proc/self/cgroup /proc/1/cgroup || echo differs cgroup-membership; "
         "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status")


class Target:
    """A running container of one runtime and the command that execs into it."""

    def __init__(self, name: str, argv: list[str], stop: list[str], mntns: str | None = None,
                 note: str = "") -> None:
        self.name = name
        self.argv = argv      # exec prefix: + the command
        self.stop = stop      # removes the container
        self.mntns = mntns
        self.note = note


def _run(argv: list[str], mntns: str | None = None, detach: bool = False) -> subprocess.CompletedProcess:
    """``detach``: a ``run -d`` whose container keeps the stdio it is given (runc,
    crun): a file, not a pipe we would wait on forever."""
    if mntns:
        argv = ["nsenter", f"--mount={mntns}", "--", *argv]
    if not detach:
        return subprocess.run(argv, capture_output=True, text=True, env=C.CLEAN_ENV, cwd=C.WORK,
                              stdin=subprocess.DEVNULL, timeout=120)
    with open(os.path.join(C.WORK, "exec-run.log"), "w+") as log:
        r = subprocess.run(argv, stdout=log, stderr=log, env=C.CLEAN_ENV, cwd=C.WORK, stdin=subprocess.DEVNULL,
                           timeout=120)
        log.seek(0)
        return subprocess.CompletedProcess(argv, r.returncode, "", log.read())


def start(name: str, nsbox: str, rootfs: str, view: C.V1View | None) -> Target:
    tag = f"x{os.getpid()}"
    if name in ("nsbox", "nsbox-unconfined"):
        cname = f"{name}-{tag}"
        extra = ["--security-opt", "seccomp=unconfined"] if name == "nsbox-unconfined" else []
        r = _run([nsbox, "run", "-d", "--name", cname, "--share", "time", *extra, "--rootfs", rootfs, "--",
                  *SLEEP])
        if r.returncode != 0:
            C.die(f"nsbox run -d failed: {r.stderr.strip()}")
        return Target(name, [nsbox, "exec", cname], [nsbox, "rm", "-f", cname],
                      note="cgroup in every hierarchy (v1: the joining process moves itself); "
                           + ("no seccomp filter" if extra else "the container's seccomp filter (cached)"))
    if name == "runc":
        b = R.make_bundle("exec-runc", rootfs, SLEEP)
        root = f"{C.STATE}/runc"
        r = _run(["/usr/sbin/runc", "--root", root, "run", "-d", "--bundle", b, f"e{tag}"], detach=True)
        if r.returncode != 0:
            C.die(f"runc run -d failed: {r.stderr.strip()}")
        return Target(name, ["/usr/sbin/runc", "--root", root, "exec", f"e{tag}"],
                      ["/usr/sbin/runc", "--root", root, "delete", "-f", f"e{tag}"],
                      note="cgroupfs driver; runc exec compiles the seccomp profile each time (libseccomp)")
    if name in ("crun", "crun-nocg"):
        b = R.make_bundle(f"exec-{name}", rootfs, SLEEP)
        root = f"{C.STATE}/crun"
        flags = ["--cgroup-manager=disabled"] if name == "crun-nocg" else []
        mnt = view.path if view else None
        r = _run(["/usr/bin/crun", *flags, "--root", root, "run", "-d", "--bundle", b, f"{name}{tag}"], mnt,
                 detach=True)
        if r.returncode != 0:
            C.die(f"crun run -d failed: {r.stderr.strip()}")
        return Target(name, ["/usr/bin/crun", *flags, "--root", root, "exec", f"{name}{tag}"],
                      ["/usr/bin/crun", *flags, "--root", root, "delete", "-f", f"{name}{tag}"], mnt,
                      note=("no cgroup" if flags else "cgroupfs driver (v1 hierarchies)")
                      + ("; in a mount namespace without the cgroup2 mount (setns)" if view else ""))
    raise ValueError(name)


def stop_command(name: str, nsbox: str, view: C.V1View | None) -> list[str]:
    tag = f"x{os.getpid()}"
    if name.startswith("nsbox"):
        return [nsbox, "rm", "-f", f"{name}-{tag}"]
    if name == "runc":
        return ["/usr/sbin/runc", "--root", f"{C.STATE}/runc", "delete", "-f", f"e{tag}"]
    flags = ["--cgroup-manager=disabled"] if name == "crun-nocg" else []
    return ["/usr/bin/crun", *flags, "--root", f"{C.STATE}/crun", "delete", "-f", f"{name}{tag}"]


def probe(t: Target) -> dict:
    r = _run([*t.argv, "/bin/sh", "-c", PROBE], t.mntns)
    if r.returncode != 0:
        C.die(f"probe in {t.name} failed ({r.returncode}): {r.stderr.strip()}")
    info: dict = {"differs": []}
    for line in r.stdout.splitlines():
        f = line.split()
        if f[0] == "differs":
            info["differs"].append(f[1])
        elif f[0] in ("CapEff:", "NoNewPrivs:", "Seccomp:"):
            info[f[0].rstrip(":")] = f[1]
    return info


def measure(a, wanted: list[str], nsbox: str, rootfs: str) -> tuple[dict, dict, dict, list[Target]]:
    view = C.V1View() if C.cgroup_layout() == "hybrid" and any(n.startswith("crun") for n in wanted) else None
    targets: list[Target] = []
    launcher = None
    try:
        for name in wanted:
            if name != "floor":
                targets.append(Target(name, [], stop_command(name, nsbox, view), view.path if view and
                                      name.startswith("crun") else None))  # removed whatever happens
                targets[-1] = start(name, nsbox, rootfs, view)
        probes = {t.name: probe(t) for t in targets}
        cases = [C.Case(t.name, [*t.argv, "/bin/true"], mntns=t.mntns, note=t.note) for t in targets]
        if "floor" in wanted:
            cases.append(C.Case("floor", [f"{rootfs}/bin/busybox", "true"],
                                note="no container: the launcher's fork+exec+wait of busybox true"))
        launcher = C.Launcher(C.build_launcher(), C.CLEAN_ENV, os.path.join(C.WORK, "exec.stderr"))
        C.log(f"measuring exec in {', '.join(c.name for c in cases)}: {a.warmup} + {a.runs} rounds")
        meter = C.LoadMeter()
        samples = C.interleaved(launcher, cases, a.runs, a.warmup, a.seed)
        load = meter.stop(sum(s.cpu_ms for v in samples.values() for s in v))
        return samples, probes, load, targets + [Target(c.name, c.argv(0), [], note=c.note) for c in cases
                                                 if c.name == "floor"]
    finally:
        if launcher:
            launcher.close()
        for t in targets:
            if t.stop:
                _run(t.stop, t.mntns)
        if view:
            view.close()
        C.remove_cgroup_parent()


def results(a, targets: list[Target], samples: dict, probes: dict, load: dict, nsbox: str) -> dict:
    cases = {}
    for t in targets:
        v = samples[t.name]
        cases[t.name] = {"argv": [*t.argv, "/bin/true"] if t.name != "floor" else t.argv, "note": t.note,
                         "probe": probes.get(t.name, {}), "wall_ms": C.stats([s.wall_ms for s in v]),
                         "maxrss_kib": C.stats([s.maxrss_kib for s in v]),
                         "cpu_ms": C.stats([s.cpu_ms for s in v]), "samples": [s.as_dict() for s in v]}
    ratios = {f"{n}/{d}": {"wall_median": cases[n]["wall_ms"]["median"] / cases[d]["wall_ms"]["median"],
                           "wall_p90": cases[n]["wall_ms"]["p90"] / cases[d]["wall_ms"]["p90"]}
              for n, d in RATIOS if n in cases and d in cases}
    return {"bench": "exec", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "revision": C.git_revision(), "machine": C.machine_info(), "load": load,
            "config": {"runs": a.runs, "warmup": a.warmup, "seed": a.seed, "oci_config": R.CONFIG_SOURCE,
                       "nsbox_entry_point": nsbox},
            "versions": {"nsbox": C.version_of([nsbox, "--version"]), "runc": C.version_of(["runc", "--version"]),
                         "crun": C.version_of(["crun", "--version"])},
            "cases": cases, "ratios": ratios}


def report(res: dict) -> str:
    lines = [f"exec /bin/true into a running container: {res['config']['runs']} interleaved runs after "
             f"{res['config']['warmup']} warm-up rounds, {res['date']}",
             f"machine: {res['machine']['cpus']} CPUs, kernel {res['machine']['kernel']}, cgroups "
             f"{res['machine']['cgroups']}; load avg {' '.join(res['load']['loadavg_before'])} before, "
             f"{' '.join(res['load']['loadavg_after'])} after ({res['load']['others_cores']} cores used by others)",
             "", f"{'runtime':<18}{'wall ms':>9}{'p90':>8}{'min':>8}{'peak RSS KiB':>14}{'CPU ms':>8}  "
                 "caps     nnp seccomp  not joined"]
    for name, c in res["cases"].items():
        pr = c["probe"]
        sec = f"{pr.get('CapEff', '-')[-8:]:<9}{pr.get('NoNewPrivs', '-'):<4}{pr.get('Seccomp', '-'):<8}"
        w = c["wall_ms"]
        lines.append(f"{name:<18}{w['median']:>9.2f}{w['p90']:>8.2f}{w['min']:>8.2f}"
                     f"{c['maxrss_kib']['median']:>14.0f}{c['cpu_ms']['median']:>8.2f}  {sec} "
                     f"{','.join(pr.get('differs', [])) or '-'}")
    lines.append("")
    for k, r in res["ratios"].items():
        lines.append(f"{k:<20} wall median {r['wall_median']:.2f}  wall p90 {r['wall_p90']:.2f}")
    lines += [""] + [f"{n}: {c['note']}" for n, c in res["cases"].items()]
    lines += [f"{k}: {v}" for k, v in res["versions"].items()]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/exec.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50, help="measured runs per runtime (default 50)")
    ap.add_argument("--warmup", type=int, default=5, help="discarded rounds first (default 5)")
    ap.add_argument("--runtimes", default=",".join(ORDER), help=f"comma list from {','.join(ORDER)}")
    ap.add_argument("--json", action="store_true", help="print the results as JSON (the report goes to stderr)")
    ap.add_argument("--no-install", action="store_true", help="use bench/.venv's nsbox as installed")
    ap.add_argument("--no-apt", action="store_true", help="do not apt-get install missing packages")
    ap.add_argument("--seed", type=int, default=1, help="seed of the run order shuffle")
    a = ap.parse_args()
    C.need_root("bench/exec.py")
    wanted = [n.strip() for n in a.runtimes.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in ORDER]
    if unknown or a.runs < 1 or a.warmup < 0:
        ap.error(f"unknown runtime {unknown[0]}" if unknown else "--runs >= 1, --warmup >= 0")
    if not a.no_apt:
        C.ensure_debian(PACKAGES)
    nsbox = C.nsbox_venv(install=not a.no_install)
    rootfs = C.busybox_rootfs()
    for d in ("nsbox", "runc", "crun"):
        os.makedirs(f"{C.STATE}/{d}", exist_ok=True)
    samples, probes, load, targets = measure(a, wanted, nsbox, rootfs)
    res = results(a, targets, samples, probes, load, nsbox)
    res["results_file"] = C.save_results("exec", res)
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
