"""``nsbox pull`` against ``podman pull`` and ``skopeo copy``, and layer unpacking against
``umoci unpack``, on one ~100 MiB image of several layers served by a local docker-registry.

    /usr/bin/python3 bench/pull.py [--runs N] [--mib 100] [--layers 5] [--no-install]

Each run starts from an empty store (nsbox --storage, podman --root, a fresh skopeo oci:
directory), so every blob is downloaded, verified and (nsbox, podman) unpacked.  Unpack
throughput: uncompressed layer bytes per second of nsbox's unpacker (the store's
ensure_layer: gunzip, hash, unpack with whiteouts) and of ``umoci unpack`` on the same
layout.  Results: bench/results/pull-<time>.json.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time

import common as C

PACKAGES = ["docker-registry", "skopeo", "umoci", "podman"]


def layer_tar(index: int, size: int) -> bytes:
    """~``size`` bytes: half random (incompressible), half text, in files of 64 kB to 4 MB."""
    rnd = __import__("random").Random(index)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        n, i = 0, 0
        while n < size:
            length = rnd.choice((65536, 262144, 1 << 20, 4 << 20))
            data = os.urandom(length) if i % 2 else (b"nsbox bench line %d\n" % i) * (length // 20)
            ti = tarfile.TarInfo(f"layer{index}/d{i % 16}/f{i}")
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
            n += len(data)
            i += 1
    return buf.getvalue()


def build_layout(path: str, mib: int, layers: int) -> tuple[str, int]:
    """An OCI layout with one image (tag "bench"); (path, uncompressed bytes)."""
    if os.path.exists(f"{path}/index.json"):
        return path, json.load(open(f"{path}/size"))
    os.makedirs(f"{path}/blobs/sha256", exist_ok=True)

    def blob(data: bytes) -> dict:
        d = hashlib.sha256(data).hexdigest()
        with open(f"{path}/blobs/sha256/{d}", "wb") as f:
            f.write(data)
        return {"digest": f"sha256:{d}", "size": len(data)}

    descs, diff_ids, total = [], [], 0
    for i in range(layers):
        raw = layer_tar(i, (mib << 20) // layers)
        total += len(raw)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      **blob(gzip.compress(raw, compresslevel=6, mtime=0))})
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(cfg)},
                           "layers": descs}).encode()
    m = {"mediaType": "application/vnd.oci.image.manifest.v1+json", **blob(manifest),
         "annotations": {"org.opencontainers.image.ref.name": "bench"}}
    with open(f"{path}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [m]}, f)
    with open(f"{path}/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(f"{path}/size", "w") as f:
        f.write(str(total))
    return path, total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(work: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    os.makedirs(work, exist_ok=True)
    with open(f"{work}/config.yml", "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {work}/data\n"
                f"http:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen(["docker-registry", "serve", f"{work}/config.yml"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"127.0.0.1:{port}"


def timed(argv: list[str], env: dict | None = None) -> float:
    t0 = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if r.returncode != 0:
        C.die(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()[-500:]}")
    return time.monotonic() - t0


def pull_cases(nsbox: str, ref: str, tmp: str) -> dict:
    env = dict(C.CLEAN_ENV)

    def nsbox_pull() -> float:
        d = tempfile.mkdtemp(dir=tmp)
        try:
            return timed([nsbox, "--storage", d, "pull", "-q", ref], env)
        finally:
            shutil.rmtree(d)

    def podman_pull() -> float:
        d = tempfile.mkdtemp(prefix="nsbox-pd-")  # podman: a runroot of at most 50 characters
        try:
            return timed(["podman", "--root", f"{d}/root", "--runroot", f"{d}/run", "--storage-driver", "overlay",
                          "pull", "-q", "--tls-verify=false", ref])
        finally:
            subprocess.run(["podman", "--root", f"{d}/root", "--runroot", f"{d}/run", "--storage-driver", "overlay",
                            "system", "reset", "-f"], capture_output=True)
            subprocess.run(["rm", "-rf", d])

    def skopeo_copy() -> float:
        d = tempfile.mkdtemp(dir=tmp)
        try:
            return timed(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{d}/l:bench"])
        finally:
            shutil.rmtree(d)

    return {"nsbox pull": nsbox_pull, "podman pull": podman_pull, "skopeo copy (no unpack)": skopeo_copy}


UNPACK = """
import sys, time, json
from nsbox.image.store import Store
from nsbox.image import archive
layout, store_dir = sys.argv[1], sys.argv[2]
s = Store(store_dir).ensure()
m = json.load(open(layout + "/index.json"))["manifests"][0]["digest"]
doc = json.load(open(layout + "/blobs/sha256/" + m[7:]))
cfg = json.load(open(layout + "/blobs/sha256/" + doc["config"]["digest"][7:]))
for d in doc["layers"]:
    with open(layout + "/blobs/sha256/" + d["digest"][7:], "rb") as f:
        s.put_stream(f, d["digest"], d["size"], "layer")
t0 = time.monotonic()
for d, diff in zip(doc["layers"], cfg["rootfs"]["diff_ids"]):
    s.ensure_layer(d["digest"], diff, "layer")
print(time.monotonic() - t0)
"""


def unpack_cases(nsbox: str, layout: str, tmp: str) -> dict:
    py = os.path.join(os.path.dirname(nsbox), "python")

    def nsbox_unpack() -> float:
        d = tempfile.mkdtemp(dir=tmp)
        try:
            out = subprocess.run([py, "-c", UNPACK, layout, d], check=True, capture_output=True, text=True)
            return float(out.stdout.strip())
        finally:
            shutil.rmtree(d)

    def umoci_unpack() -> float:
        d = tempfile.mkdtemp(dir=tmp)
        try:
            return timed(["umoci", "unpack", "--image", f"{layout}:bench", f"{d}/bundle"])
        finally:
            shutil.rmtree(d)

    return {"nsbox unpack": nsbox_unpack, "umoci unpack": umoci_unpack}


def measure(cases: dict, runs: int) -> dict:
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):  # interleaved: the machine's load falls on every tool alike
        for name, fn in cases.items():
            times[name].append(fn())
    return {k: C.stats(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--no-install", action="store_true")
    a = ap.parse_args()
    C.need_root("pull.py")
    C.ensure_debian(PACKAGES)
    nsbox = C.nsbox_venv(install=not a.no_install)
    os.makedirs(C.WORK, exist_ok=True)
    layout, raw = build_layout(f"{C.WORK}/pull-layout-{a.mib}-{a.layers}", a.mib, a.layers)
    tmp = tempfile.mkdtemp(prefix="pull-", dir=C.WORK)
    proc, host = start_registry(f"{tmp}/registry")
    try:
        ref = f"{host}/bench/image:1"
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:bench", f"docker://{ref}"],
                       check=True)
        meter = C.LoadMeter()
        pulls = measure(pull_cases(nsbox, ref, tmp), a.runs)
        unpacks = measure(unpack_cases(nsbox, layout, tmp), a.runs)
        load = meter.stop(0)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    C.log(f"image: {a.layers} layers, {raw / 2**20:.0f} MiB uncompressed; {a.runs} runs each (median, min)")
    for name, s in pulls.items():
        C.log(f"  {name:<26} {s['median']:.2f} s  (min {s['min']:.2f})")
    for name, s in unpacks.items():
        C.log(f"  {name:<26} {s['median']:.2f} s  {raw / 2**20 / s['median']:.0f} MiB/s")
    path = C.save_results("pull", {"machine": C.machine_info(), "revision": C.git_revision(), "load": load,
                                   "image": {"layers": a.layers, "uncompressed_bytes": raw},
                                   "pull_s": pulls, "unpack_s": unpacks})
    C.log(f"results: {path}")


if __name__ == "__main__":
    main()
