"""20 containers at once: concurrent run -d, exec, ps and rm -f leave consistent state and nothing behind."""

from __future__ import annotations

import json
import os

from .leaks import leftovers, processes_with
from .lifecycle import ID, ps, unique

N = 20


def _all(procs, timeout: float = 180) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        o, e = p.communicate(timeout=timeout)
        out.append((p.returncode, o.decode(), e.decode()))
    return out


def test_twenty_concurrent_run_exec_rm(runner):
    names = [unique("c") for _ in range(N)]
    marker = f"{2000 + os.getpid() % 1000}.{int.from_bytes(os.urandom(3), 'big')}"
    try:
        results = _all([runner.popen("run", "-d", "--name", n, "--", "sleep", marker) for n in names]
                       + [runner.popen("ps", "-a", "--format", "json") for _ in range(3)])
        for code, out, err in results[:N]:
            assert code == 0 and ID.fullmatch(out.strip()), (code, out, err)
        for code, out, err in results[N:]:
            assert code == 0 and isinstance(json.loads(out), list), err  # readable while they start
        ids = [r[1].strip() for r in results[:N]]
        assert len(set(ids)) == N
        running = {e["name"]: e for e in ps(runner) if e["name"] in names}
        assert set(running) == set(names)
        assert len({e["pid"] for e in running.values()}) == N
        for n, cid in zip(names, ids):
            assert running[n]["id"] == cid and running[n]["status"] == "running"

        # two execs per container, all at once
        results = _all([runner.popen("exec", n, "sh", "-c", f"echo {n} $(cat /proc/1/cmdline | tr '\\0' ' ')")
                        for n in names + names])
        for n, (code, out, err) in zip(names + names, results):
            assert code == 0 and out == f"{n} sleep {marker}\n", (code, out, err)

        # rm -f everything while execs race against it
        results = _all([runner.popen("rm", "-f", n) for n in names]
                       + [runner.popen("exec", n, "true") for n in names[: N // 2]])
        for n, (code, out, err) in zip(names, results[:N]):
            assert code == 0 and out == f"{n}\n", (code, out, err)
        for code, _out, err in results[N:]:
            assert code in (0, 125, 137), (code, err)  # ran, or found it gone / not running
            assert "Traceback" not in err and (code != 125 or err.startswith("nsbox: "))
    finally:
        runner.run("rm", "-f", *names, timeout=120)
    assert not [e for e in ps(runner, "-a") if e["name"] in names]
    assert processes_with(f"sleep {marker}") == []
    assert leftovers(runner.root) == {}
    assert os.listdir(f"{runner.root}/names") == [] or not set(os.listdir(f"{runner.root}/names")) & set(names)
