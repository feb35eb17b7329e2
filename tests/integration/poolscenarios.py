"""Scenarios for test_pool.py, run as root or as the rootless test user:
``python poolscenarios.py NAME [ARG...]`` prints one JSON object on stdout.

(A pool is a Python API: the tests drive it in a process of the user under
test, as they drive the CLI with the runner fixture.)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time

import nsbox
import nsbox.pool as P
from nsbox.errors import ConfigError, Error, PoolClosed

# the session's state root and cgroup parent (tests/conftest.py Runner.env)
nsbox.configure(root=os.environ["NSBOX_ROOT"], cgroup_parent=os.environ.get("NSBOX_CGROUP_PARENT") or "/nsbox",
                storage=os.environ.get("POOL_STORAGE"))

FIRST = r"""
echo x > /marker; echo y > /tmp/marker
setsid sh -c 'sleep 31337 & sleep 31338 &' &
hostname dirty-run && echo host=$(hostname)
ipcmk -M 4096 >/dev/null; ipcmk -Q >/dev/null
setsid python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 8080)); s.listen(); time.sleep(1000)' &
setsid flock /tmp/lock sleep 31339 &
dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>/dev/null; echo dd=$?
sleep 0.3
echo shm=$(ipcs -m | grep -c '^0x') msg=$(ipcs -q | grep -c '^0x') procs=$(ls /proc | grep -c '^[0-9]')
"""

SECOND = r"""
test -e /marker && echo marker; test -e /tmp/marker && echo tmpmarker; test -e /tmp/fill && echo fill
echo host=$(hostname)
echo shm=$(ipcs -m | grep -c '^0x') msg=$(ipcs -q | grep -c '^0x')
echo procs=$(ls /proc | grep -c '^[0-9]')
python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 8080)); print("bound")'
flock -n /tmp/lock true && echo locked
echo used=$(df -k /tmp | awk "NR==2 {print \$3}")
"""


def isolation() -> dict:
    # CAP_SYS_ADMIN (Docker's profile then allows sethostname): the run may change its hostname
    with P.Pool(size=1, tmpfs=["/tmp:size=8m"], cap_add=["SYS_ADMIN"]) as pool:
        first = pool.run(["sh", "-c", FIRST], text=True)
        leftover = os.popen("ps -eo args= | grep -c '^sleep 3133[789]'").read().strip()
        second = pool.run(["sh", "-c", SECOND], text=True)
        return {"first": first.stdout, "first_err": first.stderr, "first_rc": first.returncode,
                "second": second.stdout, "second_err": second.stderr, "leftover": int(leftover or 0)}


def concurrency() -> dict:
    bad: list[str] = []
    done = [0]
    lock = threading.Lock()

    def check(tag: str, r) -> None:
        want = f"{tag}\n{tag}\n"
        with lock:
            done[0] += 1
            if r.stdout != want or r.returncode != int(tag.rsplit("-", 1)[1]) % 100:
                bad.append(f"{tag}: {r!r}")

    cmd = ["sh", "-c", 'echo "$TOKEN"; cat; exit $(( ${TOKEN##*-} % 100 ))']
    with P.Pool(size=4) as pool:
        def worker(n: int) -> None:
            for i in range(10):
                tag = f"thread{n}-{n * 100 + i}"
                check(tag, pool.run(cmd, input=tag + "\n", env={"TOKEN": tag}, text=True))

        async def tasks() -> None:
            async def one(i: int) -> None:
                tag = f"task-{i}"
                check(tag, await pool.arun(cmd, input=tag + "\n", env={"TOKEN": tag}, text=True))
            await asyncio.gather(*(one(i) for i in range(50)))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        asyncio.run(tasks())
        for t in threads:
            t.join()
    return {"done": done[0], "bad": bad}


def cancel() -> dict:
    async def main() -> dict:
        with P.Pool(size=1) as pool:
            task = asyncio.create_task(pool.arun(["sleep", "5151"]))
            await asyncio.sleep(0.5)
            task.cancel()
            try:
                await task
                cancelled = False
            except asyncio.CancelledError:
                cancelled = True
            t = time.monotonic()
            r = await pool.arun(["sh", "-c", "echo next"], text=True)
            return {"cancelled": cancelled, "next": r.stdout, "next_s": time.monotonic() - t,
                    "leftover": int(os.popen("ps -eo args= | grep -c '^sleep 5151'").read().strip() or 0)}
    return asyncio.run(main())


def init_killed() -> dict:
    with P.Pool(size=1) as pool:
        r = pool.run(["python3", "-c", "import os; os.abort()"])
        after = pool.run(["sh", "-c", "echo ok"], text=True)
    return {"rc": r.returncode, "reason": str(r.reason), "signal": r.signal, "after": after.stdout}


def pids() -> dict:
    with P.Pool(size=1, pids_limit=16) as pool:
        r = pool.run(["sh", "-c", "for i in $(seq 64); do sleep 30 & done 2>/dev/null; wait"], timeout=5,
                     text=True)
        t = time.monotonic()
        after = pool.run(["sh", "-c", "sleep 0.1 & sleep 0.1 & wait; echo ok"], text=True)
    return {"reason": str(r.reason), "after": after.stdout, "after_s": time.monotonic() - t}


def memory() -> dict:
    with P.Pool(size=1, memory="48m", memory_swap="48m") as pool:
        r = pool.run(["python3", "-c", "a = b'x' * (256 << 20)"])
        after = pool.run(["sh", "-c", "echo ok"], text=True)
        narrow = pool.run(["python3", "-c", "a = b'x' * (40 << 20)"], memory="24m")
        again = pool.run(["python3", "-c", "a = b'x' * (24 << 20); print('ok')"], text=True)
        # a run's files count against its memory limit, never against the next run's
        fill = pool.run(["sh", "-c", "dd if=/dev/zero of=/tmp/f bs=1M count=30 2>/dev/null; echo $?"], text=True)
        big = pool.run(["python3", "-c", "a = b'x' * (30 << 20); print('ok')"], text=True)
    return {"reason": str(r.reason), "rc": r.returncode, "after": after.stdout,
            "narrow": str(narrow.reason), "again": again.stdout, "peak": again.peak_memory,
            "fill": fill.stdout, "big": big.stdout}


def timeout() -> dict:
    with P.Pool(size=2) as pool:
        out: dict = {}

        def slow() -> None:
            t = time.monotonic()
            r = pool.run(["sh", "-c", "setsid sleep 4444 & sleep 4445"], timeout=1)
            out["slow"] = (str(r.reason), time.monotonic() - t)

        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.2)
        t = time.monotonic()
        r = pool.run(["sh", "-c", "echo quick"], text=True)
        out["quick"] = (r.stdout, time.monotonic() - t)
        th.join()
        out["after"] = pool.run(["sh", "-c", "echo ok"], text=True).stdout
    out["leftover"] = int(os.popen("ps -eo args= | grep -c '^sleep 444[45]'").read().strip() or 0)
    return out


def server_killed() -> dict:
    pool = P.Pool(size=1)
    out: dict = {}

    def pending() -> None:
        t = time.monotonic()
        try:
            pool.run(["sleep", "4646"])
            out["pending"] = "returned"
        except PoolClosed as e:
            out["pending"] = f"PoolClosed: {e}"
        out["pending_s"] = time.monotonic() - t

    th = threading.Thread(target=pending)
    th.start()
    time.sleep(0.5)
    os.kill(pool.pid, 9)
    th.join(20)
    try:
        pool.run(["true"])
        out["later"] = "returned"
    except PoolClosed as e:
        out["later"] = f"PoolClosed: {e}"
    pool.close()
    time.sleep(0.2)
    out["leftover"] = int(os.popen("ps -eo args= | grep -c '^sleep 4646'").read().strip() or 0)
    return out


def caller() -> dict:
    """Started by the test and SIGKILLed by it (prints the server's pid first)."""
    pool = P.Pool(size=2)
    threading.Thread(target=lambda: pool.run(["sleep", "4747"]), daemon=True).start()
    time.sleep(0.3)
    print(json.dumps({"server": pool.pid}), flush=True)
    time.sleep(1000)
    return {}


def image() -> dict:
    with P.Pool(size=1, image="example.test/pool:1") as pool:
        first = pool.run(["sh", "-c", "echo $FROM_IMAGE; echo x > /f; ls /f"], text=True)
        second = pool.run(["sh", "-c", "ls /f"], text=True)
    return {"first": first.stdout, "second_rc": second.returncode}


def rootless_limits() -> dict:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with P.Pool(size=1, memory="64m") as pool:
            r = pool.run(["true"])
    try:
        P.Pool(size=1, memory="64m", strict_limits=True).close()
        strict = "no error"
    except Error as e:
        strict = str(e)
    return {"caught": [f"{w.category.__name__}: {w.message}" for w in caught], "result": r.warnings,
            "strict": strict}


def config() -> dict:
    out = {}
    cases = {"memory": {"memory": "lots"}, "network": {"network": "bridge"}, "unknown": {"colour": "red"},
             "size": {"size": 0}, "detach": {"detach": True}}
    for name, kw in cases.items():
        try:
            P.Pool(**kw).close()
            out[name] = "no error"
        except (ConfigError, TypeError) as e:
            out[name] = f"{type(e).__name__}: {e}"
    with P.Pool(size=1, memory="64m") as pool:
        for name, call in {"wider": lambda: pool.run(["true"], memory="1g"),
                           "argv": lambda: pool.run([]), "timeout": lambda: pool.run(["true"], timeout=-1),
                           "cwd": lambda: pool.run(["true"], cwd="rel"),
                           "env": lambda: pool.run(["true"], env={"A=B": "c"})}.items():
            try:
                call()
                out[name] = "no error"
            except ConfigError as e:
                out[name] = str(e)
        r = pool.run(["sh", "-c", "pwd; echo $A"], cwd="/tmp", env={"A": "b"}, text=True)
        out["ok"] = r.stdout
        try:
            pool.run(["no-such-command"])
            out["exec"] = "no error"
        except Error as e:
            out["exec"] = f"{type(e).__name__}: {e}"
    return out


def oversized() -> dict:
    """A request the socket cannot carry, a closed stdio fd: errors naming them, at
    once, and the pool still serves (not PoolClosed after a wait for the server)."""
    out = {}
    with P.Pool(size=1) as pool:
        r, w = 9999, 9998  # closed: numbers no open file has
        for name, kw in {"argv": {"argv": ["echo", "x" * 3000000]},
                         "stdin": {"argv": ["true"], "stdin": r}, "stdout": {"argv": ["true"], "stdout": w}}.items():
            t = time.monotonic()
            try:
                pool.run(**kw)
                out[name] = ["no error"]
            except Error as e:
                out[name] = [type(e).__name__, str(e)]
            out[name].append(time.monotonic() - t)
        out["after"] = pool.run(["echo", "ok"], stdout=nsbox.PIPE, text=True).stdout
    return out


if __name__ == "__main__":
    name = sys.argv[1]
    print(json.dumps(globals()[name]()), flush=True)
