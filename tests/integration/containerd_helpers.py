"""A private containerd for the nsbox-runc tests: its own root, state, sockets and
config under a temporary directory (never the machine's /run/containerd)."""

from __future__ import annotations

import os
import subprocess
import time

CONFIG = """version = 2
root = "{d}/root"
state = "{d}/state"
{disabled}
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
{extra}
"""


class Containerd:
    def __init__(self, d: str, extra: str = "", cri: bool = False) -> None:
        self.dir = d
        os.makedirs(d, exist_ok=True)
        disabled = "" if cri else 'disabled_plugins = ["io.containerd.grpc.v1.cri"]'
        with open(f"{d}/config.toml", "w") as f:
            f.write(CONFIG.format(d=d, disabled=disabled, extra=extra))
        self.log = open(f"{d}/containerd.log", "w")
        self.proc = subprocess.Popen(["containerd", "--config", f"{d}/config.toml"], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.sock = f"{d}/containerd.sock"
        end = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"containerd did not start:\n{open(f'{d}/containerd.log').read()[-3000:]}")
            time.sleep(0.05)

    def shims(self) -> list[int]:
        """The shims this containerd started (their command line names our socket)."""
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        args = f.read().split(b"\0")
                except OSError:
                    continue
                if args[0].endswith(b"containerd-shim-runc-v2") and self.sock.encode() in args:
                    out.append(int(entry))
        return out

    def stop(self) -> None:
        for pid in self.shims():  # left by a failed test: its containers are killed with it
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    children = [int(x) for x in f.read().split()]
            except OSError:
                children = []
            for p in children + [pid]:
                try:
                    os.kill(p, 9)
                except OSError:
                    pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        for sub in ("root", "state"):  # snapshots may be mounted: unmount before removing
            subprocess.run(["sh", "-c", f"grep -o ' {self.dir}/{sub}[^ ]*' /proc/self/mountinfo | sort -r | "
                            "xargs -r -n1 umount -l"], check=False)
        subprocess.run(["rm", "-rf", self.dir])
