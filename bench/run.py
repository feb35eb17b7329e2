"""Benchmark: ``nsbox run /bin/true`` against runc, crun and bwrap on one busybox rootfs.

Whole-process wall time (fork of the runtime's command to its reaping) and peak
RSS (wait4's ru_maxrss: the largest single process of the runtime's tree, see
README.md) over interleaved runs.  Usage (as root):

    bench/run.sh [--runs N] [--warmup N] [--json] [--runtimes nsbox,runc,...] [--no-install]
                 [--compare REV]...
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import common as C

PACKAGES = ["runc", "crun", "bubblewrap", "busybox-static", "gcc", "libc6-dev", "util-linux"]
# The namespaces every runtime creates here: runc 1.1 and crun 1.8 (Debian 12)
# cannot make a time namespace, so nsbox runs with --share time for the
# comparison; "nsbox-default" adds it back (nsbox's default: all but user).
NAMESPACES = ("mount", "pid", "network", "ipc", "uts", "cgroup")
# The fallback config's paths, as nsbox's defaults (nsbox/spec/builder.py MASKED, READONLY).
MASKED = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/interrupts")
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
# nsbox's own OCI config for `nsbox run --share time --rootfs ROOTFS -- ARGS`, from the
# installed nsbox's builder (run by the bench venv's python): runc and crun get the
# very mounts, masked paths, capabilities, no_new_privs, seccomp profile and device
# rules nsbox applies, so all three do the same work.
NSBOX_CONFIG = """
import json, sys
from nsbox.specgen.builder import RootfsInput, build
from nsbox.specgen.options import RunOptions
rootfs, args = sys.argv[1], json.loads(sys.argv[2])
spec = build(RunOptions(command=tuple(args), share=("time",)), cid="0" * 64,
             rootfs=RootfsInput(rootfs, passwd=rootfs + "/etc/passwd"))
print(json.dumps(spec.to_json()))
"""
# nsbox's default capabilities (Podman's), given to bwrap (it keeps all of root's otherwise).
DEFAULT_CAPS = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
                "NET_BIND_SERVICE", "SYS_CHROOT", "SETFCAP")
CONFIG_SOURCE: list[str] = []  # how the runc/crun config was made (reported)
PROBE = ("for n in cgroup ipc mnt net pid time user uts; do echo ns $n $(readlink /proc/self/ns/$n); done; "
         "echo mounts $(wc -l < /proc/self/mountinfo); echo cgroup $(grep -m1 memory /proc/self/cgroup); "
         "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status")
ORDER = ("nsbox", "nsbox-default", "nsbox-unconfined", "runc", "runc-unconfined", "crun", "crun-nocg", "bwrap",
         "floor", "floor-setns")
RATIOS = (("nsbox", "runc"), ("nsbox", "crun"), ("nsbox", "crun-nocg"), ("nsbox", "bwrap"),
          ("nsbox-default", "runc"), ("nsbox-unconfined", "runc-unconfined"))


def oci_config(rootfs: str, cgroups_path: str, args: list[str]) -> dict:
    """nsbox's own config (NSBOX_CONFIG) for runc and crun; if the installed nsbox
    cannot give it, ``runc spec``'s with nsbox's defaults where they differ."""
    py = os.path.join(C.VENV, "bin", "python")
    r = subprocess.run([py, "-c", NSBOX_CONFIG, rootfs, json.dumps(args)], capture_output=True, text=True,
                       env=C.CLEAN_ENV, cwd="/")
    if r.returncode == 0:
        cfg = json.loads(r.stdout)
        cfg.pop("annotations", None)
        cfg["linux"]["cgroupsPath"] = cgroups_path
        cfg["ociVersion"] = "1.0.2-dev"  # what Debian's runc spec writes; crun 1.8 refuses "1.3.0"
        _note_source("nsbox's own OCI config (nsbox.specgen.builder) with the bench's cgroupsPath")
        return cfg
    _note_source("runc spec + nsbox's defaults (nsbox's builder failed: "
                 f"{(r.stderr.strip().splitlines() or ['?'])[-1]})")
    return runc_spec_config(rootfs, cgroups_path, args)


def _note_source(text: str) -> None:
    if text not in CONFIG_SOURCE:
        CONFIG_SOURCE.append(text)


def runc_spec_config(rootfs: str, cgroups_path: str, args: list[str]) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["runc", "spec"], cwd=d, check=True)
        with open(f"{d}/config.json") as f:
            cfg = json.load(f)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = args
    cfg["root"] = {"path": rootfs, "readonly": False}  # nsbox: writable root unless --read-only
    linux = cfg["linux"]
    linux["namespaces"] = [{"type": t} for t in NAMESPACES]
    # Absolute: a relative cgroupsPath is under the caller's own cgroup (ours is a
    # memory cgroup of the machine's process manager, which we must not touch).
    linux["cgroupsPath"] = cgroups_path
    linux["maskedPaths"] = list(MASKED)
    linux["readonlyPaths"] = list(READONLY)
    return cfg


def make_bundle(name: str, rootfs: str, args: list[str], seccomp: bool = True) -> str:
    b = os.path.join(C.WORK, f"bundle-{name}")
    os.makedirs(b, exist_ok=True)
    cfg = oci_config(rootfs, f"{C.CGROUP_PARENT}/{name}", args)
    if not seccomp:
        cfg["linux"].pop("seccomp", None)
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    return b


def cases(nsbox: str, rootfs: str, view: C.V1View | None, wanted: list[str], args: list[str],
          compare: dict[str, str] | None = None) -> list[C.Case]:
    """The commands measured; ``args`` is what runs inside (/bin/true, or the probe);
    ``compare`` maps "nsbox@REV" to other builds' entry points."""
    tag = f"{os.getpid()}"
    out = []
    for name, exe in (compare or {}).items():
        out.append(C.Case(name, [exe, "run", "--share", "time", "--rootfs", rootfs, "--", *args],
                          note=f"as the nsbox row, built from revision {name.partition('@')[2]}"))
    for name in wanted:
        if name == "nsbox":
            out.append(C.Case(name, [nsbox, "run", "--share", "time", "--rootfs", rootfs, "--", *args],
                              note=f"--share time (same namespaces as runc); cgroup {C.CGROUP_PARENT}/nsbox/<id> "
                                   "in every hierarchy; root = overlay of the rootfs"))
        elif name == "nsbox-default":
            out.append(C.Case(name, [nsbox, "run", "--rootfs", rootfs, "--", *args],
                              note="nsbox's defaults: + a time namespace"))
        elif name == "nsbox-unconfined":
            out.append(C.Case(name, [nsbox, "run", "--share", "time", "--security-opt", "seccomp=unconfined",
                                     "--rootfs", rootfs, "--", *args],
                              note="as nsbox, without the seccomp filter"))
        elif name in ("runc", "runc-unconfined"):
            b = make_bundle(f"{name}{len(args)}", rootfs, args, seccomp=name == "runc")
            out.append(C.Case(name, lambda i, b=b: ["/usr/sbin/runc", "--root", f"{C.STATE}/runc", "run",
                                                    "--bundle", b, f"b{tag}-{i}"],
                              note=f"cgroupfs driver, cgroup {C.CGROUP_PARENT}/runc* in every hierarchy"
                                   + ("" if name == "runc" else "; config without linux.seccomp")))
        elif name in ("crun", "crun-nocg"):
            b = make_bundle(f"crun{len(args)}", rootfs, args)
            flags = ["--cgroup-manager=disabled"] if name == "crun-nocg" else []
            out.append(C.Case(name, lambda i, b=b, f=flags: ["/usr/bin/crun", *f, "--root", f"{C.STATE}/crun",
                                                             "run", "--bundle", b, f"c{tag}-{i}"],
                              mntns=view.path if view else None,
                              note=("no cgroup (--cgroup-manager=disabled)" if flags else
                                    f"cgroupfs driver, cgroup {C.CGROUP_PARENT}/crun* in each v1 hierarchy")
                              + ("; runs in a mount namespace without the cgroup2 mount (setns)" if view else "")))
        elif name == "bwrap":
            caps = [x for c in DEFAULT_CAPS for x in ("--cap-add", f"CAP_{c}")]
            out.append(C.Case(name, ["/usr/bin/bwrap", "--bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev",
                                     "--tmpfs", "/dev/shm", "--mqueue", "/dev/mqueue", "--unshare-pid",
                                     "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup",
                                     "--hostname", "bwrap", "--cap-drop", "ALL", *caps, "--", *args],
                              note="Docker's capabilities, no_new_privs; no cgroup, no seccomp filter, no /sys, "
                                   "no masked paths"))
        elif name == "floor":
            out.append(C.Case(name, [f"{rootfs}/bin/busybox", *(args if args[0] != "/bin/true" else ["true"])],
                              note="no container: the launcher's fork+exec+wait of busybox true"))
        elif name == "floor-setns" and view:
            out.append(C.Case(name, [f"{rootfs}/bin/busybox", "true"], mntns=view.path,
                              note="floor + the setns crun's runs pay"))
    return out


def probe(cs: list[C.Case]) -> dict[str, dict]:
    """Run the probe in each runtime once: which namespaces are new, mounts, caps."""
    host = {n: os.readlink(f"/proc/self/ns/{n}") for n in ("cgroup", "ipc", "mnt", "net", "pid", "time",
                                                           "user", "uts")}
    out = {}
    for c in cs:
        if c.name.startswith("floor"):
            continue
        argv = c.argv("probe")
        if c.mntns:
            argv = ["nsenter", f"--mount={c.mntns}", "--", *argv]
        r = subprocess.run(argv, capture_output=True, text=True, env=C.CLEAN_ENV, cwd=C.WORK)
        if r.returncode != 0:
            C.die(f"probe in {c.name} failed ({r.returncode}): {r.stderr.strip()}")
        info: dict = {"new_namespaces": []}
        for line in r.stdout.splitlines():
            f = line.split()
            if f[0] == "ns" and len(f) == 3 and f[2] != host[f[1]]:
                info["new_namespaces"].append(f[1])
            elif f[0] == "mounts":
                info["mounts"] = int(f[1])
            elif f[0] in ("CapEff:", "NoNewPrivs:", "Seccomp:"):
                info[f[0].rstrip(":")] = f[1]
        out[c.name] = info
    return out


def report(res: dict) -> str:
    nw = max(14, *(len(n) + 2 for n in res["cases"]))
    rw = max(24, *(len(n) + 2 for n in res["ratios"]))
    lines = [f"nsbox run /bin/true: {res['config']['runs']} interleaved runs per runtime after "
             f"{res['config']['warmup']} warm-up rounds, {res['date']}",
             f"machine: {res['machine']['cpus']} CPUs, kernel {res['machine']['kernel']}, "
             f"cgroups {res['machine']['cgroups']}; load avg {' '.join(res['load']['loadavg_before'])} before, "
             f"{' '.join(res['load']['loadavg_after'])} after; CPUs busy {res['load']['cpu_busy_pct']}% "
             f"({res['load']['others_cores']} cores used by other processes)",
             f"runc/crun config: {'; '.join(res['config']['oci_config']) or '-'}",
             "",
             f"{'runtime':<{nw}}{'wall ms':>9}{'p90':>8}{'min':>8}{'peak RSS KiB':>14}{'p90':>8}"
             f"{'CPU ms':>8}{'minflt':>8}  caps     nnp seccomp  new namespaces"]
    for name, c in res["cases"].items():
        w, m, cpu = c["wall_ms"], c["maxrss_kib"], c["cpu_ms"]
        pr = c.get("probe", {})
        ns = ",".join(pr.get("new_namespaces", [])) or "-"
        sec = f"{pr.get('CapEff', '-')[-8:]:<9}{pr.get('NoNewPrivs', '-'):<4}{pr.get('Seccomp', '-'):<8}"
        lines.append(f"{name:<{nw}}{w['median']:>9.2f}{w['p90']:>8.2f}{w['min']:>8.2f}{m['median']:>14.0f}"
                     f"{m['p90']:>8.0f}{cpu['median']:>8.2f}{c['minflt']['median']:>8.0f}  {sec} {ns}")
    lines.append("")
    for key, r in res["ratios"].items():
        lines.append(f"{key:<{rw}} wall median {r['wall_median']:.2f}  wall p90 {r['wall_p90']:.2f}  "
                     f"peak RSS median {r['maxrss_median']:.2f}")
    lines.append("")
    for name, c in res["cases"].items():
        lines.append(f"{name}: {c['note']}")
    lines.append("wall = fork of the command to its reaping (wait4); peak RSS = wait4 ru_maxrss: the "
                 "largest single process of the tree (runtime, its helpers, the container's process), not a sum")
    for k, v in res["versions"].items():
        lines.append(f"{k}: {v}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50, help="measured runs per runtime (default 50)")
    ap.add_argument("--warmup", type=int, default=5, help="discarded rounds first (default 5)")
    ap.add_argument("--runtimes", default=",".join(ORDER), help=f"comma list from {','.join(ORDER)}")
    ap.add_argument("--json", action="store_true", help="print the results as JSON (the report goes to stderr)")
    ap.add_argument("--no-install", action="store_true", help="use bench/.venv's nsbox as installed")
    ap.add_argument("--no-apt", action="store_true", help="do not apt-get install missing packages")
    ap.add_argument("--seed", type=int, default=1, help="seed of the run order shuffle")
    ap.add_argument("--compare", action="append", default=[], metavar="REV",
                    help="also measure nsbox as of git revision REV (repeatable), e.g. to see what a change gains")
    a = ap.parse_args()
    C.need_root("bench/run.py")
    wanted = [n.strip() for n in a.runtimes.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in ORDER]
    if unknown or a.runs < 1 or a.warmup < 0:
        ap.error(f"unknown runtime {unknown[0]}" if unknown else "--runs >= 1, --warmup >= 0")
    if not a.no_apt:
        C.ensure_debian(PACKAGES)
    nsbox = C.nsbox_venv(install=not a.no_install)
    compare = {f"nsbox@{rev}": C.nsbox_at(rev) for rev in a.compare}
    launcher_bin = C.build_launcher()
    rootfs = C.busybox_rootfs()
    for d in ("nsbox", "runc", "crun"):
        os.makedirs(f"{C.STATE}/{d}", exist_ok=True)
    view = C.V1View() if C.cgroup_layout() == "hybrid" and any(n.startswith("crun") for n in wanted) else None
    launcher = None
    try:
        probes = probe(cases(nsbox, rootfs, view, wanted, ["/bin/sh", "-c", PROBE], compare))
        cs = cases(nsbox, rootfs, view, wanted, ["/bin/true"], compare)
        launcher = C.Launcher(launcher_bin, C.CLEAN_ENV, os.path.join(C.WORK, "launch.stderr"))
        C.log(f"measuring {', '.join(c.name for c in cs)}: {a.warmup} + {a.runs} rounds")
        meter = C.LoadMeter()
        samples = C.interleaved(launcher, cs, a.runs, a.warmup, a.seed)
        load = meter.stop(sum(s.cpu_ms for v in samples.values() for s in v))
    finally:
        if launcher:
            launcher.close()
        if view:
            view.close()
        C.remove_cgroup_parent()
    res = results(a, cs, samples, probes, load, nsbox)
    res["results_file"] = C.save_results("run", res)
    text = report(res)
    if a.json:
        C.log(text)
        json.dump(res, sys.stdout, indent=1)
        print()
    else:
        print(text)
        print(f"results: {res['results_file']}")
    return 0


def results(a, cs: list[C.Case], samples: dict, probes: dict, load: dict, nsbox: str) -> dict:
    out_cases = {}
    for c in cs:
        v = samples[c.name]
        out_cases[c.name] = {
            "argv": c.argv(0), "note": c.note, "probe": probes.get(c.name, {}),
            "wall_ms": C.stats([s.wall_ms for s in v]), "maxrss_kib": C.stats([s.maxrss_kib for s in v]),
            "cpu_ms": C.stats([s.cpu_ms for s in v]), "minflt": C.stats([s.minflt for s in v]),
            "samples": [s.as_dict() for s in v]}
    ratios = {}
    for num, den in (*RATIOS, *(("nsbox", c.name) for c in cs if "@" in c.name)):
        if num in out_cases and den in out_cases:
            n, d = out_cases[num], out_cases[den]
            ratios[f"{num}/{den}"] = {
                "wall_median": n["wall_ms"]["median"] / d["wall_ms"]["median"],
                "wall_p90": n["wall_ms"]["p90"] / d["wall_ms"]["p90"],
                "maxrss_median": n["maxrss_kib"]["median"] / d["maxrss_kib"]["median"]}
    return {
        "bench": "run", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "command": " ".join(shlex.quote(x) for x in ["bench/run.sh", *sys.argv[1:]]),
        "revision": C.git_revision(), "machine": C.machine_info(), "load": load,
        "config": {"runs": a.runs, "warmup": a.warmup, "seed": a.seed, "namespaces": list(NAMESPACES),
                   "compare": a.compare, "oci_config": CONFIG_SOURCE,
                   "order": "each round shuffled", "nsbox_entry_point": nsbox},
        "versions": {"nsbox": C.version_of([nsbox, "--version"]), "runc": C.version_of(["runc", "--version"]),
                     "crun": C.version_of(["crun", "--version"]), "bwrap": C.version_of(["bwrap", "--version"]),
                     "busybox": C.version_of(["/bin/busybox"])},
        "cases": out_cases, "ratios": ratios}


if __name__ == "__main__":
    sys.exit(main())
