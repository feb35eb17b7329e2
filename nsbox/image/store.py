"""The content-addressed image store.

Layout (``<root>``: /var/lib/nsbox/storage as root, $XDG_DATA_HOME/nsbox/storage
(~/.local/share) rootless, or the caller's choice)::

    <root>/blobs/sha256/<hex>   manifests, configs, layer blobs: verified, fsynced, renamed in
    <root>/layers/<hex>/        a layer unpacked (whiteouts as overlayfs's), named by its diff id
    <root>/l/<16 hex>           -> ../layers/<hex>: short overlay lowerdir paths (a mount's options
                                must fit in a page: ~100 layers this way, ~38 with the long names)
    <root>/images.json          image id (config digest) -> manifest, layers, names; atomic rename
    <root>/partial/<hex>        an interrupted download, resumed by the next pull (verified at the end)
    <root>/tmp/                 work in progress, each entry flock'ed by the process writing it
    <root>/locks/               per-digest flocks: one download or unpack of a blob at a time
    <root>/lock                 serialises images.json updates
    <root>/gc.lock              held shared by pulls and loads, exclusively by whoever deletes blobs

Nothing becomes visible under blobs/ or layers/ until it is complete and
verified (rename), so a SIGKILL at any point leaves only tmp/ entries whose flock
died with their writer: :meth:`Store.collect_tmp` removes them.
"""

from __future__ import annotations

import fcntl
import os
import time

from .. import jsonio
from ..errors import ConfigError, Conflict, NotFound, NsboxError
from . import refs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_JSON_BLOB = 8 << 20  # manifests, indexes and configs are small


def default_root() -> str:
    from .. import defaults

    if defaults.storage:
        return defaults.storage
    if os.geteuid() == 0:
        return "/var/lib/nsbox/storage"
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return f"{data}/nsbox/storage"


def digest_hex(digest: str) -> str:
    refs.check_digest(digest)
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256":
        raise ConfigError(f"digest `{digest}`: only sha256 content is stored")
    return hexpart


class TempEntry:
    """A file or directory under tmp/, flock'ed while its writer lives."""

    def __init__(self, store: Store, directory: bool) -> None:
        self.path = f"{store.root}/tmp/{os.getpid()}-{os.urandom(8).hex()}"
        if directory:
            os.mkdir(self.path, 0o755)
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.directory = directory

    def commit(self, dest: str) -> None:
        """Rename into place (the entry stops being temporary)."""
        os.rename(self.path, dest)
        self.path = ""

    def close(self) -> None:
        if self.path:
            remove_tree(self.path)
            self.path = ""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Lock:
    """flock on a file (exclusive or shared); a context manager."""

    def __init__(self, path: str, shared: bool = False, blocking: bool = True) -> None:
        self.path, self.shared, self.blocking = path, shared, blocking
        self.fd = -1

    def __enter__(self) -> Lock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        op = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | (0 if self.blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(self.fd, op)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = -1
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)
        self.fd = -1


class Image:
    """One image of images.json."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def names(self) -> list[str]:
        return list(self.record.get("names", []))

    @property
    def layers(self) -> list[dict[str, Any]]:
        return list(self.record.get("layers", []))

    @property
    def diff_ids(self) -> list[str]:
        return [x["diffID"] for x in self.layers]


class Store:
    def __init__(self, root: str | None = None, max_layer_size: int | None = None) -> None:
        """``root``/``max_layer_size``: None takes nsbox.defaults' (nsbox.configure)."""
        from .. import defaults

        self.root = os.path.abspath(root or default_root())
        self.max_layer_size = max_layer_size or defaults.max_layer_size

    # -- layout ---------------------------------------------------------------
    def ensure(self) -> Store:
        for d in ("", "/blobs", "/blobs/sha256", "/layers", "/l", "/tmp", "/locks", "/partial"):
            try:
                os.makedirs(self.root + d, 0o700 if not d else 0o755, exist_ok=True)
            except OSError as e:
                raise NsboxError(f"image store `{self.root}{d}`: {e.strerror}") from None
        # private, as Podman's: a container's root is the store's owner (use.py refuses others)
        os.chmod(self.root, 0o700)
        return self

    def blob_path(self, digest: str) -> str:
        return f"{self.root}/blobs/sha256/{digest_hex(digest)}"

    def layer_path(self, diff_id: str) -> str:
        return f"{self.root}/layers/{digest_hex(diff_id)}"

    def lower_path(self, diff_id: str) -> str:
        """The short path of a present layer for overlay's lowerdir (its l/ link, made if missing)."""
        hexpart = digest_hex(diff_id)
        link = f"{self.root}/l/{hexpart[:16]}"
        target = f"../layers/{hexpart}"
        try:
            if os.readlink(link) == target:
                return link
        except OSError:
            pass
        if not os.path.isdir(f"{self.root}/l"):
            return self.layer_path(diff_id)  # a store made before l/ existed: the long name
        tmp = f"{self.root}/l/.{os.getpid()}-{os.urandom(4).hex()}"
        os.symlink(target, tmp)
        os.rename(tmp, link)  # atomic; a (64-bit prefix) collision would be replaced, not followed
        return link

    def has_blob(self, digest: str) -> bool:
        return os.path.isfile(self.blob_path(digest))

    def has_layer(self, diff_id: str) -> bool:
        return os.path.isdir(self.layer_path(diff_id))

    def digest_lock(self, digest: str) -> Lock:
        return Lock(f"{self.root}/locks/{digest_hex(digest)}")

    def gc_lock(self, shared: bool, blocking: bool = True) -> Lock:
        return Lock(f"{self.root}/gc.lock", shared=shared, blocking=blocking)

    def temp(self, directory: bool = False) -> TempEntry:
        return TempEntry(self, directory)

    # -- blobs ----------------------------------------------------------------
    def read_blob(self, digest: str, limit: int = MAX_JSON_BLOB) -> bytes:
        path = self.blob_path(digest)
        try:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            raise NotFound(f"blob {digest}: not in the image store `{self.root}`") from None
        if len(data) > limit:
            raise ConfigError(f"blob {digest}: larger than {limit} bytes")
        return data

    def put_bytes(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data``; if ``digest`` is given it must match.  Returns the digest."""
        import hashlib

        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest is not None and digest != actual:
            raise ConfigError(f"blob {digest}: content does not match its digest (got {actual})")
        if self.has_blob(actual):
            return actual
        t = self.temp()
        try:
            os.write(t.fd, data)
            os.fsync(t.fd)
            t.commit(self.blob_path(actual))
        finally:
            t.close()
        return actual

    def put_stream(self, stream, digest: str, size: int | None, what: str) -> None:
        """Copy ``stream`` into the blob ``digest``, verifying its size and digest."""
        from .verify import Verifier

        if self.has_blob(digest):
            return
        t = self.temp()
        try:
            v = Verifier(digest, size, what)
            with os.fdopen(os.dup(t.fd), "wb") as out:
                while chunk := stream.read(1 << 20):
                    v.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            v.check()
            t.commit(self.blob_path(digest))
        finally:
            t.close()

    def adopt(self, path: str, digest: str) -> None:
        """Rename a verified file (in this store's file system) to the blob ``digest``."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(path, self.blob_path(digest))

    # -- layers ---------------------------------------------------------------
    def ensure_layer(self, blob: str, diff_id: str, what: str) -> list[str]:
        """Unpack the layer blob ``blob`` as ``layers/<diff id>`` (once); notes of skipped entries."""
        if self.has_layer(diff_id):
            return []
        with self.digest_lock(diff_id):
            if self.has_layer(diff_id):
                return []
            from .layers import unpack_blob

            t = self.temp(directory=True)
            try:
                notes = unpack_blob(self.blob_path(blob), t.path, diff_id, what, self.max_layer_size)
                t.commit(self.layer_path(diff_id))
            finally:
                t.close()
            return notes

    # -- images.json ----------------------------------------------------------
    def _index(self) -> dict[str, Any]:
        try:
            data = jsonio.load_file(f"{self.root}/images.json")
        except FileNotFoundError:
            return {"images": {}}
        except (OSError, ValueError) as e:
            raise NsboxError(f"image store `{self.root}/images.json`: unreadable ({e})") from None
        return data if isinstance(data, dict) and isinstance(data.get("images"), dict) else {"images": {}}

    def _write_index(self, index: dict[str, Any]) -> None:
        jsonio.write_atomic(f"{self.root}/images.json", index, mode=0o644)

    def index_lock(self) -> Lock:
        return Lock(f"{self.root}/lock")

    def images(self) -> list[Image]:
        return [Image(r) for r in self._index()["images"].values()]

    def add_image(self, record: dict[str, Any], names: list[str]) -> Image:
        """Record an image (its blobs and layers present); ``names`` move to it from any other."""
        with self.index_lock():
            index = self._index()
            imgs = index["images"]
            for other in imgs.values():
                other["names"] = [n for n in other.get("names", []) if n not in names]
            old = imgs.get(record["id"], {})
            record["names"] = list(dict.fromkeys(old.get("names", []) + names))
            record["digests"] = list(dict.fromkeys(old.get("digests", []) + record.get("digests", [])))
            record.setdefault("added", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            imgs[record["id"]] = record
            self._write_index(index)
            return Image(record)

    def lookup(self, ref: str) -> Image:
        """An image by name (short names as Podman resolves them), full or short id."""
        img = self.find(ref)
        if img is None:
            raise NotFound(f"image `{ref}`: not in the local store (nsbox pull {ref}, or nsbox load)")
        return img

    def find(self, ref: str) -> Image | None:
        imgs = self._index()["images"]
        if not imgs:
            return None
        by_id = _find_id(imgs, ref)
        if by_id is not None:
            return Image(by_id)
        try:
            parsed = refs.parse(ref)
        except ConfigError:
            return None
        if parsed.short and not parsed.digest:  # cheap first: no name ends so (nsbox run's first word)
            tail = f"/{parsed.repository}:{parsed.tag or refs.DEFAULT_TAG}"
            if not any(n.endswith(tail) for rec in imgs.values() for n in rec.get("names", [])):
                return None
        wanted = refs.local_candidates(parsed)
        for name in wanted:
            for rec in imgs.values():
                if name in rec.get("names", []) or (parsed.digest and name in rec.get("digests", [])):
                    return Image(rec)
        return None

    def tag(self, ref: str, new_name: str) -> Image:
        img = self.lookup(ref)
        name = str(refs.parse(new_name).qualified("localhost"))
        return self.add_image(dict(img.record), [name])

    def untag(self, image_id: str, name: str) -> None:
        with self.index_lock():
            index = self._index()
            rec = index["images"].get(image_id)
            if rec is not None:
                rec["names"] = [n for n in rec.get("names", []) if n != name]
                self._write_index(index)

    def remove(self, image_id: str, keep_layers: set[str] = frozenset()) -> None:
        """Forget an image, then delete the blobs and layers no other image uses (nor
        ``keep_layers``: names under layers/ that containers still have as lowers)."""
        with self.index_lock():
            index = self._index()
            if index["images"].pop(image_id, None) is None:
                raise NotFound(f"image `{image_id}`: not in the local store")
            self._write_index(index)
        self.sweep(keep_layers)

    # -- garbage --------------------------------------------------------------
    def sweep(self, keep_layers: set[str] = frozenset()) -> list[str]:
        """Delete unreferenced blobs and layers, unless a pull or load is in progress
        (it holds gc.lock shared: what it wrote is not referenced yet).  The removed paths."""
        try:
            with self.gc_lock(shared=False, blocking=False):
                with self.index_lock():
                    return self._sweep_locked(keep_layers)
        except BlockingIOError:
            return []

    def _sweep_locked(self, keep_layers: set[str]) -> list[str]:
        blobs: set[str] = set()
        layers: set[str] = set(keep_layers)
        for rec in self._index()["images"].values():
            blobs.update(digest_hex(d) for d in (rec["manifest"], rec["config"], *rec.get("extraBlobs", [])))
            for x in rec.get("layers", []):
                blobs.add(digest_hex(x["digest"]))
                layers.add(digest_hex(x["diffID"]))
        removed: list[str] = []
        for name in _listdir(f"{self.root}/l"):
            target = os.readlink(f"{self.root}/l/{name}") if os.path.islink(f"{self.root}/l/{name}") else ""
            if target.rpartition("/")[2] not in layers:
                os.unlink(f"{self.root}/l/{name}")
                removed.append(f"{self.root}/l/{name}")
        for sub, keep in (("blobs/sha256", blobs), ("layers", layers), ("partial", set())):
            for name in _listdir(f"{self.root}/{sub}"):
                if name not in keep:
                    path = f"{self.root}/{sub}/{name}"
                    trash = f"{self.root}/tmp/gc-{os.urandom(8).hex()}"
                    os.rename(path, trash)  # gone at once; removed below (or by collect_tmp)
                    remove_tree(trash)
                    removed.append(path)
        for name in _listdir(f"{self.root}/locks"):
            # digest locks are taken under gc.lock shared, which we hold exclusively:
            # nobody has one open; those of what is gone would otherwise pile up
            if name not in blobs and name not in layers:
                os.unlink(f"{self.root}/locks/{name}")
        self.collect_tmp()
        return removed

    def collect_tmp(self) -> int:
        """Remove tmp/ entries whose writer died (their flock is free, and the pid in their
        name is gone: a writer between creating its entry and locking it is left alone)."""
        n = 0
        for name in _listdir(f"{self.root}/tmp"):
            path = f"{self.root}/tmp/{name}"
            if _writer_alive(name):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                remove_tree(path)
                n += 1
            finally:
                os.close(fd)
        return n


def _writer_alive(name: str) -> bool:
    pid = name.partition("-")[0]
    if not pid.isdigit() or int(pid) <= 0 or int(pid) == os.getpid():
        return False  # ours (not being written: we are collecting) or a sweep's trash
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _find_id(imgs: dict[str, Any], ref: str) -> dict[str, Any] | None:
    key = ref[7:] if ref.startswith("sha256:") else ref
    if len(key) < 3 or not refs.HEX.issuperset(key):
        return None
    found = [r for i, r in imgs.items() if i[7:].startswith(key)]
    if len(found) > 1:
        raise Conflict(f"image id `{ref}`: ambiguous ({len(found)} images start with it)")
    return found[0] if found else None


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def remove_tree(path: str) -> None:
    """Remove a file or tree we own, even with read-only directories in it (layers have them)."""
    from ..runtime.state import rmtree

    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        for dirpath, dirnames, _files in os.walk(path):
            for d in dirnames:
                p = f"{dirpath}/{d}"
                if not os.path.islink(p):
                    try:
                        os.chmod(p, 0o700)
                    except OSError:
                        pass
    rmtree(path)
