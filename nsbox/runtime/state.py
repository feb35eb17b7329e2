"""Container state on disk: one 0700 directory per container, written atomically.

Layout (``<root>`` is /run/nsbox for root, $XDG_RUNTIME_DIR/nsbox otherwise)::

    <root>/containers/<id>/state.json   OCI state + nsbox fields (atomic rename)
    <root>/containers/<id>/config.json  the spec the container was created from
    <root>/containers/<id>/owner.lock   flock held by the nsbox process supervising it
    <root>/containers/<id>/lock         flock serialising commands on this container
    <root>/containers/<id>/exitcode     the exit status, written in place before removal
                                        (``nsbox wait`` holds it open, so --rm cannot lose it)
    <root>/containers/<id>/container.log output of a detached container (stdout and stderr)
    <root>/containers/<id>/exec.fifo    init blocks opening it until start (runc's exec fifo)
    <root>/containers/<id>/rootfs/      the container's root (or overlay merge point)
    <root>/names/<name> -> <id>         symlink: names are unique, claimed atomically

Every resource a container holds outside its directory (cgroups, netns
registrations, links, firewall rules, leases) is recorded in ``resources`` in
state.json *before* it is created, so that whoever finds the owner dead (the next
nsbox command: :func:`nsbox.runtime.gc.collect`) can release it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

from .. import jsonio
from ..errors import ConfigError, Conflict, ContainerNotFound, NsboxError
from ..spec.model import OCI_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CREATING, CREATED, RUNNING, STOPPED, PAUSED = "creating", "created", "running", "stopped", "paused"


def default_root() -> str:
    from .. import defaults

    if defaults.root:
        return defaults.root
    if os.geteuid() == 0:
        return "/run/nsbox"
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and _owned_dir(xdg):
        return f"{xdg}/nsbox"
    return tmp_root("nsbox")


TMP_DIR = "/tmp"


def tmp_root(prefix: str) -> str:
    """``/tmp/<prefix>-<uid>``, the rootless fallback: anyone may make it first
    (with a state.json whose resources we would release), so it must be ours."""
    path = f"{TMP_DIR}/{prefix}-{os.geteuid()}"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    if (st.st_mode & 0o170000) != 0o040000:
        why = "not a directory (a symlink here is refused)"
    elif st.st_uid != os.geteuid():
        why = f"owned by uid {st.st_uid}, not by us ({os.geteuid()})"
    elif st.st_mode & 0o022:
        why = f"writable by others (mode {st.st_mode & 0o7777:o})"
    else:
        return path
    raise NsboxError(f"state directory `{path}`: {why} (set XDG_RUNTIME_DIR or --root)")


def _owned_dir(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_uid == os.geteuid() and (st.st_mode & 0o170000) == 0o040000


def ensure_private_dir(path: str) -> None:
    """Create ``path`` 0700 (parents too); refuse one owned by someone else or a symlink."""
    try:
        os.mkdir(path, 0o700)
        return
    except FileExistsError:
        pass
    except FileNotFoundError:
        ensure_private_dir(os.path.dirname(path))
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        return
    except OSError as e:
        raise NsboxError(f"create state directory `{path}`: {e.strerror}") from None
    st = os.lstat(path)
    if (st.st_mode & 0o170000) != 0o040000:
        raise NsboxError(f"state directory `{path}`: not a directory (a symlink here is refused)")
    if st.st_uid != os.geteuid():
        raise NsboxError(f"state directory `{path}`: owned by uid {st.st_uid}, not by us ({os.geteuid()})")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def valid_id(value: str, what: str = "container id") -> str:
    ok = value and len(value) <= 128 and value[0].isalnum() and all(
        c.isalnum() or c in "_.-" for c in value)
    if not ok or not value.isascii():
        raise ConfigError(f"{what} `{value}`: must be 1-128 of [A-Za-z0-9_.-], starting with a letter or digit")
    return value


class Store:
    """The state root: finds, creates and lists containers."""

    def __init__(self, root: str | None = None) -> None:
        self.root = root or default_root()
        self.containers_dir = f"{self.root}/containers"
        self.names_dir = f"{self.root}/names"

    def ensure(self) -> None:
        if not os.path.isdir(self.containers_dir) or not os.path.isdir(self.names_dir):
            ensure_private_dir(self.root)
            ensure_private_dir(self.containers_dir)
            ensure_private_dir(self.names_dir)

    def restrict(self) -> None:
        """Back to 0700 once no container needs its directory reached by a
        user-namespaced root (run.py makes the parents 0711 for those)."""
        try:
            if os.stat(self.containers_dir).st_mode & 0o777 == 0o700:
                return
            for entry in os.scandir(self.containers_dir):
                if entry.stat(follow_symlinks=False).st_mode & 0o070:
                    return
            for d in (self.containers_dir, self.root):
                os.chmod(d, 0o700)
        except OSError:
            pass

    def ids(self) -> list[str]:
        try:
            return sorted(os.listdir(self.containers_dir))
        except FileNotFoundError:
            return []

    def new(self, cid: str, name: str | None = None) -> Container:
        """Create a container directory, owned (owner.lock held) before it is visible.

        It is made as ``.new-<pid>.<start time>-<id>`` (pending_name) and renamed
        once the lock is held: between the mkdir and the flock nothing says "taken"
        but the name, from which the garbage collector tells a creator still alive
        from one that was killed (and removes the latter's at once)."""
        self.ensure()
        final = f"{self.containers_dir}/{cid}"
        if os.path.lexists(final):
            raise ConfigError(f"container id `{cid}`: already in use")
        tmp = f"{self.containers_dir}/{pending_name(cid)}"
        try:
            os.mkdir(tmp, 0o700)
        except FileExistsError:
            raise ConfigError(f"container id `{cid}`: already in use") from None
        c = Container(self, cid, tmp)
        try:
            # Created here, never on demand: a command that opened them with
            # O_CREAT could recreate them in a directory being removed.
            for f in ("lock", "exitcode"):
                os.close(os.open(f"{tmp}/{f}", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            c.take_ownership()
            if name:
                try:
                    os.symlink(cid, f"{self.names_dir}/{name}")
                except FileExistsError:
                    raise Conflict(f"container name `{name}`: already in use by "
                                      f"{self._name_target(name)}") from None
            os.rename(tmp, final)
        except BaseException:
            c.release_ownership()
            rmtree(tmp)
            raise
        c.path = final
        return c

    def _name_target(self, name: str) -> str:
        try:
            return os.readlink(f"{self.names_dir}/{name}")[:12]
        except OSError:
            return "another container"

    def lookup(self, ref: str) -> Container:
        """A container by name, full id, or unique id prefix."""
        if not ref or "/" in ref or ref.startswith("."):  # .new-*/.rm-*: not containers (yet, any more)
            raise ContainerNotFound(f"no such container: `{ref}`")
        try:
            cid = os.readlink(f"{self.names_dir}/{ref}")
        except OSError:
            cid = ref
        path = f"{self.containers_dir}/{cid}"
        if os.path.isdir(path):
            return Container(self, cid, path)
        matches = [i for i in self.ids() if i.startswith(ref)]
        if len(matches) == 1:
            return Container(self, matches[0], f"{self.containers_dir}/{matches[0]}")
        if len(matches) > 1:
            raise ContainerNotFound(f"container `{ref}`: ambiguous id prefix ({len(matches)} match)")
        raise ContainerNotFound(f"no such container: `{ref}`")

    def release_name(self, name: str | None, cid: str) -> None:
        if not name:
            return
        link = f"{self.names_dir}/{name}"
        try:
            if os.readlink(link) == cid:
                os.unlink(link)
        except OSError:
            pass


PENDING_PREFIX = ".new-"
REMOVING_PREFIX = ".rm-"


def pending_name(cid: str, pid: int | None = None, prefix: str = PENDING_PREFIX) -> str:
    """``.new-<pid>.<start time>-<cid>``: a directory being created, and by whom
    (``.rm-...``: being removed)."""
    from ..procfs import start_time

    pid = os.getpid() if pid is None else pid
    return f"{prefix}{pid}.{start_time(pid) or 0}-{cid}"


def pending_owner(name: str) -> tuple[int, int, str] | None:
    """(pid, start time, id) of a pending_name(); None for anything else."""
    prefix = PENDING_PREFIX if name.startswith(PENDING_PREFIX) else REMOVING_PREFIX
    if not name.startswith(prefix):
        return None
    who, sep, cid = name[len(prefix):].partition("-")
    pid, dot, start = who.partition(".")
    if not (sep and dot and pid.isdigit() and start.isdigit() and cid):
        return None
    return int(pid), int(start), cid


class Container:
    """One container directory and its state.json."""

    def __init__(self, store: Store, cid: str, path: str) -> None:
        self.store = store
        self.id = cid
        self.path = path
        self._state: dict[str, Any] | None = None
        self._lock_fd = -1
        self._owner_fd = -1

    # -- paths ---------------------------------------------------------------
    @property
    def rootfs(self) -> str:
        return f"{self.path}/rootfs"

    @property
    def fifo(self) -> str:
        return f"{self.path}/exec.fifo"

    @property
    def log_path(self) -> str:
        return f"{self.path}/container.log"

    @property
    def exitcode_path(self) -> str:
        return f"{self.path}/exitcode"

    def record_exit_code(self, code: int) -> None:
        """Write the exit status in place (not by rename): a waiter holding the
        file open still reads it after the directory is removed (--rm)."""
        try:
            fd = os.open(self.exitcode_path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            os.write(fd, str(code).encode())
        finally:
            os.close(fd)

    def live_status(self) -> str:
        """The status to show: "running" only while its process is alive.

        state.json says what the supervisor last recorded; a container whose
        init died while nothing watched (or whose supervisor is recording the
        exit right now) is shown as stopped, as the garbage collector will make it."""
        st = self.state
        status = st.get("status", CREATING)
        if status in (RUNNING, CREATED, PAUSED):
            from ..procfs import alive

            if not alive(st.get("pid", 0), st.get("pidStart")):
                return STOPPED
        elif status == CREATING and not self.owner_alive():
            return STOPPED
        return status

    # -- state ---------------------------------------------------------------
    @property
    def state(self) -> dict[str, Any]:
        if self._state is None:
            self._state = self.read()
        return self._state

    def read(self) -> dict[str, Any]:
        try:
            st = jsonio.load_file(f"{self.path}/state.json")
        except FileNotFoundError:
            st = {"ociVersion": OCI_VERSION, "id": self.id, "status": CREATING, "pid": 0,
                  "resources": []}
        except (OSError, ValueError) as e:
            raise NsboxError(f"read state of container `{self.id}`: {e}") from None
        self._state = st
        return st

    def write(self, **changes: Any) -> dict[str, Any]:
        st = self.state
        st.update(changes)
        jsonio.write_atomic(f"{self.path}/state.json", st)
        self._dirty = False
        return st

    def update(self, **changes: Any) -> None:
        """Change the state in memory; the next write() or flush() saves it."""
        self.state.update(changes)
        self._dirty = True

    def flush(self) -> None:
        if getattr(self, "_dirty", False):
            self.write()

    def init_state(self, persist: bool = True, **fields: Any) -> None:
        """A fresh state.  ``persist=False`` leaves it to the first write (the
        first resource held): until then the garbage collector sees a container
        being created, which its owner.lock protects."""
        self._state = {"ociVersion": OCI_VERSION, "id": self.id, "status": CREATING, "pid": 0,
                       "bundle": self.path, "annotations": {}, "created": now(),
                       "owner": os.getpid(), "resources": []}
        self._dirty = True
        if persist:
            self.write(**fields)
        else:
            self._state.update(fields)

    def add_resource(self, kind: str, **data: Any) -> None:
        """Record a resource before creating it (write-ahead), so GC can release it."""
        res = list(self.state.get("resources", []))
        res.append({"kind": kind, **data})
        self.write(resources=res)

    def drop_resource(self, kind: str) -> None:
        res = [r for r in self.state.get("resources", []) if r.get("kind") != kind]
        self.write(resources=res)

    # -- locks ---------------------------------------------------------------
    def lock(self, blocking: bool = True, shared: bool = False) -> bool:
        """Serialise commands on this container (flock on ``lock``).

        ``shared``: for commands that may run side by side but not alongside a
        change of the container (``exec`` while it joins; ``rm`` and the
        supervisor recording an exit take it exclusively).  Raises
        ContainerNotFound if the container was removed, also while we waited for
        the lock (the lock file is then unlinked: st_nlink == 0)."""
        if self._lock_fd >= 0:
            return True
        try:
            fd = os.open(f"{self.path}/lock", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ContainerNotFound(f"no such container: `{self.id}` (removed)") from None
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB))
            if os.fstat(fd).st_nlink == 0:
                raise ContainerNotFound(f"no such container: `{self.id}` (removed)")
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd
        self._state = None  # re-read under the lock
        return True

    def unlock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def take_ownership(self) -> None:
        """Hold owner.lock for as long as this process supervises the container."""
        fd = os.open(f"{self.path}/owner.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._owner_fd = fd

    @property
    def owner_fd(self) -> int:
        return self._owner_fd

    def owner_alive(self) -> bool:
        """True while some process holds owner.lock."""
        try:
            fd = os.open(f"{self.path}/owner.lock", os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release_ownership(self) -> None:
        if self._owner_fd >= 0:
            os.close(self._owner_fd)
            self._owner_fd = -1

    # -- removal -------------------------------------------------------------
    def remove_dir(self) -> None:
        """Remove the container: first out of sight (renamed ``.rm-<pid>.<start>-<id>``),
        then its name, then the files.  A remover killed halfway leaves no nameless
        container behind, only a directory the garbage collector finishes."""
        name = self.state.get("name")
        if not os.path.basename(self.path).startswith((PENDING_PREFIX, REMOVING_PREFIX)):
            gone = f"{self.store.containers_dir}/{pending_name(self.id, prefix=REMOVING_PREFIX)}"
            try:
                os.rename(self.path, gone)
                self.path = gone
            except FileNotFoundError:
                pass  # removed by someone else meanwhile
        self.store.release_name(name, self.id)
        remove_tree(self.path)
        self.store.restrict()



def remove_tree(path: str) -> None:
    """A container directory, whoever owns its files."""
    try:
        rmtree(path)
    except (NsboxError, PermissionError):
        if os.geteuid() == 0:
            raise
        # Rootless with subordinate ids: files the container's other users
        # made belong to ids we are not; remove them as its root, in a user
        # namespace with the same maps (as `podman unshare rm` would).  rmtree
        # leaves config.json (the maps) for last.
        from .userns import rmtree_as_container_root

        rmtree_as_container_root(path, f"{path}/config.json")
        rmtree(path)


def rmtree(path: str) -> None:
    """Remove a tree without following symlinks or crossing into mounts.

    (shutil imports fnmatch and re; this is all the runtime needs.)
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if (st.st_mode & 0o170000) != 0o040000:
        os.unlink(path)
        return
    dev = st.st_dev
    try:
        try:
            entries = list(os.scandir(path))
        except PermissionError:
            os.chmod(path, 0o700)
            entries = list(os.scandir(path))
    except FileNotFoundError:
        return  # removed by someone else meanwhile
    entries.sort(key=lambda e: e.name == "config.json")  # last: remove_tree may need its id maps
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.stat(follow_symlinks=False).st_dev != dev:
                    raise NsboxError(f"remove `{entry.path}`: a mount point, refusing to descend")
                rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise NsboxError(f"remove `{path}`: {e.strerror}") from None
