"""Garbage collection: finish the cleanup of containers whose nsbox process died.

Every nsbox command calls :func:`collect` first.  A container whose owner.lock
is free while its state says it is not stopped lost its supervisor (SIGKILL, a
crash, a reboot of /run): its processes are killed, the resources recorded in
state.json are released, and the directory is removed (foreground and --rm
containers) or kept as "stopped" so that ``nsbox ps -a`` and ``rm`` still see it.
"""

from __future__ import annotations

import _signal
import os

from .. import procfs
from ..errors import NsboxError
from . import resources
from . import state as S

# A directory being created is named .new-<pid>.<start>-<id> until its owner
# lock is held (state.pending_name).
PENDING_PREFIX = S.PENDING_PREFIX


def _stale_cache_files(store: S.Store) -> None:
    """Half-written seccomp cache files (<sha>.bpf.<pid>.tmp) of a killed nsbox."""
    d = f"{store.root}/seccomp"
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        if not n.endswith(".tmp"):
            continue
        pid = n[:-4].rpartition(".")[2]
        if pid.isdigit() and not procfs.alive(int(pid)):
            try:
                os.unlink(f"{d}/{n}")
            except OSError:
                pass


def _has_entries(path: str) -> bool:
    try:
        return bool(os.listdir(path))
    except OSError:
        return False


def collect(store: S.Store) -> list[str]:
    """Clean up after dead owners; returns what was collected (for -v output)."""
    _stale_cache_files(store)
    done = []
    try:
        names = os.listdir(store.containers_dir)
    except FileNotFoundError:
        names = []
    for name in names:
        path = f"{store.containers_dir}/{name}"
        c = S.Container(store, name, path)
        if name.startswith((PENDING_PREFIX, S.REMOVING_PREFIX)):
            if _pending_abandoned(c, name):
                try:
                    S.remove_tree(path)
                except (OSError, NsboxError):
                    continue  # e.g. a mount left inside: retried by the next command
                done.append(name)
            continue
        try:
            st = c.read()
        except Exception:  # noqa: BLE001 - a corrupt state file: leave it to `rm -f`
            continue
        if st.get("status") == S.STOPPED and not st.get("resources") and not st.get("autoRemove"):
            continue
        if st.get("supervised", True) is False:
            if st.get("status") != S.STOPPED and procfs.alive(st.get("pid", 0), st.get("pidStart")):
                continue
        elif c.owner_alive():
            continue
        try:
            if not c.lock(blocking=False):
                continue
        except NsboxError:
            continue  # removed meanwhile (by `rm`, or another collector)
        try:
            st = c.read()
            if st.get("supervised", True) is not False and c.owner_alive():
                continue
            reap(c)
            done.append(name)
        except NsboxError:
            continue  # e.g. a mount left inside: `rm -f` reports it; GC must not fail every command
        finally:
            c.unlock()
    _stale_names(store)
    if _has_entries(f"{store.root}/pools"):  # nsbox.Pool servers that died (nsbox/pool/gc.py)
        from ..pool.gc import collect_pools

        done += collect_pools(store)
    return done


def kill_and_release(st: dict) -> list[str]:
    """SIGKILL the recorded process (if it is still the one recorded: its start
    time) and release every recorded resource; the release errors."""
    pid = int(st.get("pid") or 0)
    if pid and procfs.alive(pid, st.get("pidStart")):
        try:
            os.kill(pid, _signal.SIGKILL)
        except OSError:
            pass
    return resources.release_all(st.get("resources", []))


def reap(c: S.Container, exit_code: int | None = None, reason: str | None = None) -> None:
    """Kill the container's processes, release its resources, record or remove it.

    Called by GC (``exit_code`` None: the supervisor died) and by the supervisor
    itself once the container's init exited (its status and ``reason``)."""
    st = c.state
    errors = kill_and_release(st)
    code = st.get("exitCode", 137) if exit_code is None else exit_code
    if st.get("status") != S.STOPPED:
        c.record_exit_code(code)  # before any removal: `nsbox wait` reads it
    if st.get("autoRemove") or st.get("status") == S.CREATING and not st.get("detached"):
        c.remove_dir()
        return
    changes = {"status": S.STOPPED, "resources": [], "pid": 0}
    if st.get("status") != S.STOPPED:
        changes["finished"] = S.now()
        changes["exitCode"] = code
        changes["exitReason"] = reason or st.get("exitReason", "killed (its nsbox supervisor died)")
    if errors:
        changes["cleanupErrors"] = errors
    c.write(**changes)


def _pending_abandoned(c: S.Container, name: str) -> bool:
    """Its creator is dead (pid and start time from the name), and no one holds
    its owner.lock (a creator in another PID namespace, whose pid means nothing here)."""
    who = S.pending_owner(name)
    if who is not None and procfs.alive(who[0], who[1]):
        return False
    if who is None and _younger_than(c.path, 5.0):
        return False  # an unknown (older) name: its creator may not hold the lock yet
    return not c.owner_alive()


def _younger_than(path: str, seconds: float) -> bool:
    import time

    try:
        return time.time() - os.lstat(path).st_mtime < seconds
    except OSError:
        return True


def _stale_names(store: S.Store) -> None:
    try:
        names = os.listdir(store.names_dir)
    except FileNotFoundError:
        return
    for n in names:
        link = f"{store.names_dir}/{n}"
        try:
            target = os.readlink(link)
        except OSError:
            continue
        final = f"{store.containers_dir}/{target}"
        # Store.new makes the pending directory, then the name, then renames the
        # directory: read in the opposite order (name, pending, final), one of
        # the two directories is seen while its creator lives.
        if os.path.isdir(final) or target in _pending_ids(store) or os.path.isdir(final):
            continue
        try:
            os.unlink(link)
        except OSError:
            pass


def _pending_ids(store: S.Store) -> set[str]:
    ids = set()
    try:
        names = os.listdir(store.containers_dir)
    except FileNotFoundError:
        return ids
    for n in names:
        who = S.pending_owner(n)
        if who is not None:
            ids.add(who[2])
        elif n.startswith(PENDING_PREFIX):
            ids.add(n[len(PENDING_PREFIX):])
    return ids
