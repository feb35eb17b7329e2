"""Helpers for the lifecycle and exec tests: detached containers that are always removed."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from contextlib import contextmanager

ID = re.compile(r"[0-9a-f]{64}")


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def run_d(runner, *args: str, name: str | None = None) -> str:
    """``nsbox run -d``; returns the full id it printed."""
    argv = ["run", "-d"] + (["--name", name] if name else []) + list(args)
    r = runner.run(*argv, check=True, timeout=60)
    cid = r.stdout.strip()
    assert ID.fullmatch(cid), f"run -d printed {r.stdout!r}"
    return cid


def ps(runner, *args: str) -> list[dict]:
    r = runner.run("ps", "--format", "json", *args, check=True)
    return json.loads(r.stdout)


def entry(runner, ref: str) -> dict | None:
    for e in ps(runner, "-a"):
        if e["name"] == ref or e["id"].startswith(ref):
            return e
    return None


def state_of(runner, cid: str) -> dict:
    with open(f"{runner.root}/containers/{cid}/state.json") as f:
        return json.load(f)


def wait_for(pred, timeout: float = 10.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@contextmanager
def containers(runner):
    """Yields a list to append names/ids to; all are force-removed afterwards."""
    made: list[str] = []
    try:
        yield made
    finally:
        if made:
            runner.run("rm", "-f", *made, timeout=60)


def supervisor_of(runner, cid: str) -> int:
    return int(state_of(runner, cid)["owner"])


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def session_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[3])


def rss_kib(pid: int) -> tuple[int, int]:
    """(Rss, Private_Dirty) in KiB from smaps_rollup."""
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Rss", "Private_Dirty"):
                vals[k] = int(v.split()[0])
    return vals["Rss"], vals["Private_Dirty"]


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [os.fsdecode(a) for a in f.read().split(b"\0") if a]
