"""What nsbox's benchmarks share: installing runtimes, building the busybox rootfs,
the launcher that times runs, statistics, machine load and the results dump.

Each benchmark is its own script (run.py: ``nsbox run /bin/true``; later ones for
exec, networking...) that imports this module.  They run as root with
/usr/bin/python3 (never the pyenv shim) and measure nsbox through the entry point
of a non-editable install in bench/.venv, as a user's ``pip install .`` has it
(compiled .pyc files, the plain bin/nsbox script).
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
RESULTS = os.path.join(BENCH, "results")       # gitignored
WORK = os.path.join(RESULTS, "work")           # rootfs, bundles, the launcher binary
VENV = os.path.join(BENCH, ".venv")            # gitignored (.venv/)
STATE = "/run/nsboxbench"                      # state roots of every runtime under test
CGROUP_PARENT = "/nsboxbench"                  # every runtime's cgroups go below it
# nsbox's cgroups under ours too (NSBOX_CGROUP_PARENT): other people's containers
# come and go under /nsbox, and one removing the empty /nsbox while ours creates
# /nsbox/<id> fails our run (ENOENT).
CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "HOME": "/root", "LANG": "C.UTF-8", "NSBOX_ROOT": f"{STATE}/nsbox",
             "NSBOX_CGROUP_PARENT": f"{CGROUP_PARENT}/nsbox"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def die(msg: str) -> None:
    log(f"bench: {msg}")
    sys.exit(1)


def need_root(script: str) -> None:
    if os.geteuid() != 0:
        die(f"{script}: run as root (runc, crun and nsbox create cgroups and mounts)")


# --- installation ------------------------------------------------------------------------------

def ensure_debian(packages: list[str]) -> None:
    """apt-get install the packages that are missing (Debian 12's versions)."""
    missing = [p for p in packages
               if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                 text=True).stdout.strip() != "install ok installed"]
    if not missing:
        return
    log(f"installing from Debian: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def nsbox_venv(install: bool = True, venv: str = VENV, source: str = REPO) -> str:
    """A venv made with /usr/bin/python3 -m venv (bench/.venv by default) with the
    tree ``source`` installed non-editable; returns its ``nsbox`` entry point."""
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        log(f"creating {venv}")
        subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
        install = True
    if install:
        log(f"pip install {source} (non-editable) into {venv}")
        pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, source], check=True, cwd=BENCH)
        # Same version number as last time: force the current tree in.
        subprocess.run([*pip, "--no-deps", "--force-reinstall", source], check=True, cwd=BENCH)
    exe = os.path.join(venv, "bin", "nsbox")
    pkg = subprocess.run([py, "-c", "import nsbox, os; print(os.path.dirname(nsbox.__file__))"],
                         capture_output=True, text=True, check=True, cwd="/").stdout.strip()
    if pkg.startswith(source + "/nsbox"):
        die(f"{venv} imports nsbox from the source tree ({pkg}): need a non-editable install")
    if not os.path.isdir(os.path.join(pkg, "__pycache__")):
        die(f"{pkg} has no __pycache__: the install was not byte-compiled")
    return exe


def nsbox_at(rev: str) -> str:
    """nsbox as of git revision ``rev`` (``git archive``), in its own venv under
    results/work: to compare a change with its base in the same interleaved run."""
    r = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", f"{rev}^{{commit}}"], capture_output=True,
                       text=True)
    if r.returncode != 0:
        die(f"--compare `{rev}`: not a revision of {REPO}")
    sha = r.stdout.strip()
    src = os.path.join(WORK, f"src-{sha}")
    if not os.path.isdir(src):
        os.makedirs(src)
        subprocess.run(f"git -C {REPO} archive {sha} | tar -x -C {src}", shell=True, check=True)
    venv = os.path.join(WORK, f"venv-{sha}")
    return nsbox_venv(install=not os.path.exists(os.path.join(venv, "bin", "nsbox")), venv=venv, source=src)


def build_launcher() -> str:
    """Compile bench/launch.c (static when libc.a is there) once per source change."""
    src = os.path.join(BENCH, "launch.c")
    out = os.path.join(WORK, "launch")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    os.makedirs(WORK, exist_ok=True)
    for extra in (["-static"], []):
        r = subprocess.run(["cc", "-O2", "-Wall", *extra, "-o", out, src], capture_output=True, text=True)
        if r.returncode == 0:
            return out
    die(f"cannot compile {src}:\n{r.stderr}")
    return out


def busybox_rootfs(busybox: str = "/bin/busybox") -> str:
    """A minimal root filesystem: busybox-static and one symlink per applet,
    /etc/passwd and /etc/group, and the mount points every runtime uses (made
    here so that no runtime writes to the shared directory)."""
    root = os.path.join(WORK, "rootfs")
    st = os.stat(busybox)
    stamp = f"{busybox} {st.st_size} {int(st.st_mtime)}\n"
    stamp_file = os.path.join(WORK, "rootfs.stamp")
    if os.path.isdir(root) and _read(stamp_file) == stamp:
        return root
    if not _is_static(busybox):
        die(f"{busybox} is dynamically linked: install busybox-static (it replaces busybox)")
    if os.path.exists(root):
        subprocess.run(["rm", "-rf", "--one-file-system", root], check=True)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run"):
        os.makedirs(f"{root}/{d}", exist_ok=True)
    os.chmod(f"{root}/tmp", 0o1777)
    subprocess.run(["cp", busybox, f"{root}/bin/busybox"], check=True)
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout
    for rel in applets.split():
        dst = f"{root}/{rel}"
        if not os.path.lexists(dst):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.symlink("/bin/busybox", dst)
    _write(f"{root}/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    _write(f"{root}/etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n")
    _write(stamp_file, stamp)
    return root


def _is_static(path: str) -> bool:
    """No PT_INTERP program header (ELF64 little-endian)."""
    import struct

    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF":
            return False
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            if struct.unpack("<I", f.read(4))[0] == 3:  # PT_INTERP
                return False
    return True


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def version_of(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError as e:
        return f"unavailable ({e.strerror})"
    return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr).strip() else "?"


# --- cgroups -----------------------------------------------------------------------------------

def cgroup_mounts() -> list[tuple[str, str]]:
    """(mount point, fstype) of every cgroup/cgroup2 mount, from our mountinfo."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2"):
                out.append((fields[4], fstype))
    return out


def cgroup_layout() -> str:
    kinds = {t for _, t in cgroup_mounts()}
    if kinds == {"cgroup2"}:
        return "v2"
    return "hybrid" if "cgroup2" in kinds else "v1"


def remove_cgroup_parent(path: str = CGROUP_PARENT) -> None:
    """rmdir the (empty) parent cgroup the runtimes left in each hierarchy."""
    for mnt, _ in cgroup_mounts():
        d = mnt + path
        if os.path.isdir(d):
            for sub in sorted(os.listdir(d), reverse=True):
                if os.path.isdir(f"{d}/{sub}"):
                    _rmdir(f"{d}/{sub}")
            _rmdir(d)


def _rmdir(d: str) -> None:
    try:
        os.rmdir(d)
    except OSError as e:
        log(f"bench: cannot remove cgroup {d}: {e.strerror}")


class V1View:
    """A mount namespace where the cgroup2 mounts of a hybrid layout are unmounted.

    crun 1.8 refuses hybrid layouts ("cgroups in hybrid mode not supported, drop
    all controllers from cgroupv2") even with --cgroup-manager=disabled.  Its runs
    setns(2) into this namespace (held by a sleeping child of ours that dies with
    us: PR_SET_PDEATHSIG), where it sees the same v1 hierarchies as runc and nsbox
    minus /sys/fs/cgroup/unified.  The cost of the setns is in the "floor" row."""

    def __init__(self) -> None:
        r, w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(r)
            self._child(w)
        os.close(w)
        msg = os.read(r, 512).decode()
        os.close(r)
        if msg != "ok":
            self.close()
            die(f"cgroup v1 view for crun: {msg or 'the helper died'}")
        self.path = f"/proc/{self.pid}/ns/mnt"

    @staticmethod
    def _child(w: int) -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
            if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
            if libc.mount(b"none", b"/", None, 0x4000 | 0x40000, None) != 0:  # MS_REC|MS_PRIVATE
                raise OSError(ctypes.get_errno(), "make / rprivate")
            for mnt, fstype in cgroup_mounts():
                if fstype == "cgroup2" and libc.umount2(mnt.encode(), 2) != 0:  # MNT_DETACH
                    raise OSError(ctypes.get_errno(), f"umount {mnt}")
            os.write(w, b"ok")
            os.close(w)
            while True:
                time.sleep(3600)
        except BaseException as e:  # a child: report and exit, never return
            try:
                os.write(w, f"{e}".encode())
            finally:
                os._exit(1)

    def close(self) -> None:
        if self.pid:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
            self.pid = 0


# --- measuring ---------------------------------------------------------------------------------

class Sample:
    __slots__ = ("status", "t0_ns", "t1_ns", "maxrss_kib", "utime_us", "stime_us", "minflt", "majflt")

    def __init__(self, line: str) -> None:
        v = [int(x) for x in line.split()]
        (self.status, self.t0_ns, self.t1_ns, self.maxrss_kib, self.utime_us, self.stime_us,
         self.minflt, self.majflt) = v

    @property
    def wall_ms(self) -> float:
        return (self.t1_ns - self.t0_ns) / 1e6

    @property
    def cpu_ms(self) -> float:
        return (self.utime_us + self.stime_us) / 1e3

    def as_dict(self) -> dict:
        return {"wall_ms": round(self.wall_ms, 3), "maxrss_kib": self.maxrss_kib,
                "cpu_ms": round(self.cpu_ms, 3), "user_ms": self.utime_us / 1e3,
                "sys_ms": self.stime_us / 1e3, "minflt": self.minflt, "status": self.status}


class Launcher:
    """The bench/launch.c server: fork + execve + wait4, timed in C (see launch.c)."""

    def __init__(self, binary: str, env: dict[str, str], stderr_path: str, cwd: str = WORK) -> None:
        self.stderr_path = stderr_path
        self._err = open(stderr_path, "w")
        self.proc = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._err, env=env, cwd=cwd)

    def run(self, argv: list[str], mntns: str | None = None) -> Sample:
        req = b"".join(a.encode() + b"\0" for a in [mntns or "-", *argv]) + b"\0"
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(req)
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().decode()
        if not line:
            die(f"the launcher died; see {self.stderr_path}")
        return Sample(line)

    def stderr_tail(self, n: int = 5) -> str:
        self._err.flush()
        return "\n".join(_read(self.stderr_path).splitlines()[-n:])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()
        self._err.close()


class Case:
    """One thing measured: ``argv(i)`` gives the command of run i (runc/crun need ids)."""

    def __init__(self, name: str, argv, mntns: str | None = None, note: str = "") -> None:
        self.name = name
        self.argv = argv if callable(argv) else (lambda i, a=list(argv): a)
        self.mntns = mntns
        self.note = note


def interleaved(launcher: Launcher, cases: list[Case], runs: int, warmup: int,
                seed: int = 1) -> dict[str, list[Sample]]:
    """``warmup`` discarded rounds, then ``runs`` rounds; each round runs every case
    once in a new random order, so drift and other users' load hit all alike."""
    rng = random.Random(seed)
    out: dict[str, list[Sample]] = {c.name: [] for c in cases}
    for rnd in range(warmup + runs):
        order = cases[:]
        rng.shuffle(order)
        for c in order:
            s = launcher.run(c.argv(rnd), c.mntns)
            if s.status != 0:
                die(f"{c.name} failed (wait status {s.status:#x}): {' '.join(c.argv(rnd))}\n"
                    f"{launcher.stderr_tail()}")
            if rnd >= warmup:
                out[c.name].append(s)
    return out


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    import math

    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def stats(values: list[float]) -> dict:
    import statistics

    s = sorted(values)
    return {"n": len(s), "median": statistics.median(s), "p90": percentile(s, 90), "min": s[0],
            "max": s[-1], "mean": statistics.fmean(s),
            "stdev": statistics.stdev(s) if len(s) > 1 else 0.0}


# --- machine state -----------------------------------------------------------------------------

def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v) - idle, sum(v)


class LoadMeter:
    """Load average and how busy the CPUs were (by everyone) while measuring."""

    def __init__(self) -> None:
        self.load_before = _read("/proc/loadavg").split()[:3]
        self.cpu0 = _cpu_times()
        self.t0 = time.monotonic()

    def stop(self, our_cpu_ms: float) -> dict:
        busy1, total1 = _cpu_times()
        busy = busy1 - self.cpu0[0]
        total = total1 - self.cpu0[1]
        elapsed = time.monotonic() - self.t0
        ncpu = os.cpu_count() or 1
        tick = os.sysconf("SC_CLK_TCK")
        busy_cores = busy / tick / elapsed if elapsed else 0.0
        ours = our_cpu_ms / 1000 / elapsed if elapsed else 0.0
        return {"loadavg_before": self.load_before, "loadavg_after": _read("/proc/loadavg").split()[:3],
                "cpus": ncpu, "elapsed_s": round(elapsed, 2),
                "cpu_busy_pct": round(100 * busy / total, 1) if total else 0.0,
                "busy_cores": round(busy_cores, 2), "runtimes_cores": round(ours, 2),
                "others_cores": round(max(0.0, busy_cores - ours), 2)}


def machine_info() -> dict:
    u = os.uname()
    mem = _read("/proc/meminfo").split("\n", 1)[0].split()
    return {"kernel": u.release, "machine": u.machine, "cpus": os.cpu_count(),
            "mem_total_kib": int(mem[1]) if len(mem) > 1 else None, "cgroups": cgroup_layout(),
            "python": sys.version.split()[0]}


def git_revision() -> str:
    r = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def save_results(bench: str, data: dict) -> str:
    """bench/results/<bench>-<UTC date-time>.json (gitignored)."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{bench}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json")
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    return path
