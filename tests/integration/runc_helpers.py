"""Helpers for the nsbox-runc tests: the installed binary, a private --root, bundles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.conftest import CGROUP_PARENT

RUNC = str(Path(sys.executable).parent / "nsbox-runc")


def unique(prefix: str = "r") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Runc:
    """nsbox-runc with a private state root, as root or as the test user."""

    def __init__(self, root: str, user=None, binary: str = RUNC) -> None:
        self.root = root
        self.user = user
        self.binary = binary

    def argv(self, *args: str) -> list[str]:
        base = [self.binary, "--root", self.root, *args]
        if self.user is None:
            return base
        u = self.user
        return ["setpriv", f"--reuid={u.pw_uid}", f"--regid={u.pw_gid}", "--init-groups", "--reset-env", "env",
                f"HOME={u.pw_dir}", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", *base]

    def run(self, *args: str, check: bool = False, timeout: float = 30, input: str | None = None,
            **kw) -> subprocess.CompletedProcess:
        # stdout and stderr are files, not pipes: a created container inherits them
        # (as it inherits conmon's or a shim's), and would hold a pipe open
        import tempfile

        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(self.argv(*args), stdout=out, stderr=err, timeout=timeout,
                               input=input.encode() if input is not None else None,
                               stdin=None if input is not None else subprocess.DEVNULL, **kw)
            out.seek(0)
            err.seek(0)
            r = subprocess.CompletedProcess(p.args, p.returncode, out.read().decode(), err.read().decode())
        if check and r.returncode != 0:
            raise AssertionError(f"nsbox-runc {' '.join(args)} exited {r.returncode}\nstdout: {r.stdout}\n"
                                 f"stderr: {r.stderr}")
        return r

    def state(self, cid: str) -> dict:
        return json.loads(self.run("state", cid, check=True).stdout)

    def status(self, cid: str) -> str:
        return self.state(cid)["status"]

    def cleanup(self) -> None:
        r = self.run("list", "-q")
        for cid in r.stdout.split():
            self.run("delete", "--force", cid)


def make_bundle(directory: str, rootfs: str, args: list[str], *, runc: Runc, cid: str | None = None,
                edit=None) -> str:
    """``nsbox-runc spec`` in ``directory``, then the root, the command, no terminal,
    and a cgroup under this session's parent; ``edit(config)`` changes the rest."""
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o777)
    rootless = runc.user is not None
    runc.run("spec", "--bundle", directory, *(["--rootless"] if rootless else []), check=True)
    path = f"{directory}/config.json"
    with open(path) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": rootfs, "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = args
    if not rootless:
        cfg["linux"]["cgroupsPath"] = f"{CGROUP_PARENT}/runc-{cid or uuid.uuid4().hex[:8]}"
    if edit is not None:
        edit(cfg)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    os.chmod(path, 0o644)
    return directory


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def wait_for(pred, timeout: float = 10.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def cgroup_dirs(path: str) -> list[str]:
    """Where a cgroup path exists, in every mounted hierarchy."""
    out = []
    for entry in os.scandir("/sys/fs/cgroup"):
        if entry.is_dir() and os.path.isdir(entry.path + path):
            out.append(entry.path + path)
    return out
