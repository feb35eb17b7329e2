"""Benchmark: nsbox-runc against runc and crun, the same bundle, the same run.

Cases (wall time from the fork of the command to its reaping, and peak RSS,
timed by bench/launch.c over interleaved rounds):

- ``<runtime> run --bundle B ID`` of ``/bin/true`` (create, start, wait, delete);
- ``create`` + ``start`` + ``delete --force`` in one ``sh -c`` (the shell's
  cost is in every row alike, see the ``sh`` row);
- with ``--podman``: ``podman run --rm IMAGE true`` with ``--runtime`` each of
  them (cgroupfs manager, private --root/--runroot, an image imported from the
  busybox rootfs).

The bundle is bench/run.py's: nsbox's own OCI config (capabilities,
no_new_privs, seccomp profile, six namespaces, cgroup below /nsboxbench).
Usage (as root): ``/usr/bin/python3 bench/runc.py [--runs N] [--warmup N] [--podman] [--no-install]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time

import common as C
import run as R

PACKAGES = ["runc", "crun", "busybox-static", "gcc", "libc6-dev", "util-linux", "podman"]
RUNTIMES = {"nsbox-runc": None, "runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
CSD = ('"$0" --root "$1" create --bundle "$2" "$3" && "$0" --root "$1" start "$3" && '
       '"$0" --root "$1" delete --force "$3"')


def runtime_cases(nsbox_runc: str, rootfs: str, view: C.V1View | None) -> list[C.Case]:
    tag = os.getpid()
    out = []
    for name, exe in RUNTIMES.items():
        exe = exe or nsbox_runc
        b = R.make_bundle(f"{name}-runc-bench", rootfs, ["/bin/true"])
        root = f"{C.STATE}/{name}"
        os.makedirs(root, exist_ok=True)
        mntns = view.path if view and name == "crun" else None
        out.append(C.Case(f"{name} run", lambda i, e=exe, r=root, b=b, n=name: [
            e, "--root", r, "run", "--bundle", b, f"{n[0]}{tag}-{i}"], mntns=mntns))
        out.append(C.Case(f"{name} create+start+delete", lambda i, e=exe, r=root, b=b, n=name: [
            "/bin/sh", "-c", CSD, e, r, b, f"{n[0]}{tag}-csd-{i}"], mntns=mntns))
    out.append(C.Case("sh", ["/bin/sh", "-c", "true"], note="the shell of the create+start+delete rows"))
    return out


def podman_cases(nsbox_runc: str, rootfs: str) -> list[C.Case]:
    base = f"{C.WORK}/podman"
    os.makedirs(base, exist_ok=True)
    g = ["/usr/bin/podman", "--root", f"{base}/root", "--runroot", f"{base}/runroot", "--cgroup-manager", "cgroupfs",
         "--events-backend", "none", "--storage-driver", "vfs"]
    tar = f"{base}/image.tar"
    with tarfile.open(tar, "w") as t:
        t.add(rootfs, arcname=".")
    subprocess.run(g + ["import", tar, "localhost/nsboxbench:latest"], check=True, capture_output=True)
    out = []
    for name, exe in RUNTIMES.items():
        argv = g + ["--runtime", exe or nsbox_runc, "--runtime-flag", f"root={C.STATE}/podman-{name}",
                    "run", "--rm", "--network", "none", *ULIMITS,
                    "--cgroup-parent", f"{C.CGROUP_PARENT}/podman", "localhost/nsboxbench:latest", "true"]
        r = subprocess.run(argv, capture_output=True, text=True, env=C.CLEAN_ENV)
        if r.returncode != 0:
            C.log(f"podman with {name}: skipped: {r.stderr.strip().splitlines()[-1:]}")
            continue
        out.append(C.Case(f"podman {name}", argv))
    return out


def _remove_tree(path: str) -> None:
    for mount, _fstype in C.cgroup_mounts():
        top = mount + path
        for d, _subs, _files in sorted(os.walk(top), key=lambda x: -x[0].count("/")):
            if d != top:
                try:
                    os.rmdir(d)
                except OSError:
                    pass


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/runc.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--podman", action="store_true", help="also podman run --rm with each runtime")
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-apt", action="store_true")
    a = ap.parse_args()
    C.need_root("bench/runc.py")
    if not a.no_apt:
        C.ensure_debian(PACKAGES)
    nsbox = C.nsbox_venv(install=not a.no_install)
    nsbox_runc = os.path.join(os.path.dirname(nsbox), "nsbox-runc")
    launcher_bin = C.build_launcher()
    rootfs = C.busybox_rootfs()
    view = C.V1View() if C.cgroup_layout() == "hybrid" else None
    launcher = None
    try:
        cs = runtime_cases(nsbox_runc, rootfs, view) + (podman_cases(nsbox_runc, rootfs) if a.podman else [])
        launcher = C.Launcher(launcher_bin, C.CLEAN_ENV, os.path.join(C.WORK, "launch.stderr"))
        meter = C.LoadMeter()
        samples = C.interleaved(launcher, cs, a.runs, a.warmup)
        load = meter.stop(sum(s.cpu_ms for v in samples.values() for s in v))
    finally:
        if launcher:
            launcher.close()
        if view:
            view.close()
        _remove_tree(C.CGROUP_PARENT)  # (podman leaves <parent>/podman/conmon)
        C.remove_cgroup_parent()
    rows = {c.name: {"wall_ms": C.stats([s.wall_ms for s in samples[c.name]]),
                     "maxrss_kib": C.stats([s.maxrss_kib for s in samples[c.name]])} for c in cs}
    ratios = {}
    for kind in ("run", "create+start+delete"):
        n = rows.get(f"nsbox-runc {kind}")
        for other in ("runc", "crun"):
            d = rows.get(f"{other} {kind}")
            if n and d:
                ratios[f"nsbox-runc/{other} {kind}"] = {
                    "wall_median": n["wall_ms"]["median"] / d["wall_ms"]["median"],
                    "maxrss_median": n["maxrss_kib"]["median"] / d["maxrss_kib"]["median"]}
    res = {"bench": "runc", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "revision": C.git_revision(), "machine": C.machine_info(), "load": load,
           "config": {"runs": a.runs, "warmup": a.warmup}, "cases": rows, "ratios": ratios,
           "versions": {"runc": C.version_of(["runc", "--version"]), "crun": C.version_of(["crun", "--version"])}}
    path = C.save_results("runc", res)
    print(f"{a.runs} interleaved rounds after {a.warmup} warm-up; load {load['loadavg_before']} -> "
          f"{load['loadavg_after']}, others used {load['others_cores']} cores")
    print(f"{'case':<36}{'wall ms':>9}{'p90':>8}{'peak RSS KiB':>14}")
    for name, r in rows.items():
        w, m = r["wall_ms"], r["maxrss_kib"]
        print(f"{name:<36}{w['median']:>9.2f}{w['p90']:>8.2f}{m['median']:>14.0f}")
    for k, r in ratios.items():
        print(f"{k:<40} wall {r['wall_median']:.2f}  peak RSS {r['maxrss_median']:.2f}")
    print(f"results: {path}")
    print(json.dumps(ratios) if os.environ.get("BENCH_JSON") else "", end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
