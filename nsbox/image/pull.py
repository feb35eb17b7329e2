"""``pull``: a reference -> manifest (the platform's, from an index) -> config and layer blobs,
downloaded in parallel (each once, whoever else pulls it: the blob's lock), resumed
with Range after an interruption, verified, unpacked, recorded.

``progress(event, digest, done, total)`` is called from the download threads:
event is "start", "bytes", "done", "exists" or "unpacked".
"""

from __future__ import annotations

import hashlib
import os

from ..errors import ConfigError, NotFound
from . import manifest as M
from . import refs
from .registry import Registry, RegistryError, insecure_in_conf

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .store import Image, Store

RETRIES = 3


class PullOptions:
    def __init__(self, platform: str | None = None, authfile: str | None = None, insecure: bool = False,
                 timeout: float = 30.0, jobs: int = 4, registries: list[str] | None = None,
                 cert_dir: str | None = None) -> None:
        self.platform = platform
        self.authfile = authfile
        self.insecure = insecure
        self.timeout = timeout
        self.jobs = jobs
        self.registries = registries
        self.cert_dir = cert_dir


def pull(store: Store, text: str, opts: PullOptions | None = None, progress=None) -> tuple[Image, list[str]]:
    """Pull ``text`` (a short name tries each search registry in turn); (image, notes)."""
    opts = opts or PullOptions()
    parsed = refs.parse(text)
    M.parse_platform(opts.platform)  # a malformed --platform is an error even for single-platform images
    tried: list[str] = []
    cands = refs.candidates(parsed, opts.registries)
    for ref in cands:
        try:
            return pull_one(store, ref, opts, progress)
        except (NotFound, RegistryError) as e:
            if len(cands) == 1:
                raise
            tried.append(str(e))
    raise NotFound(f"pull `{text}`: not found in any search registry: " + "; ".join(tried))


def _registry(ref: refs.Reference, opts: PullOptions) -> Registry:
    from . import auth

    return Registry(ref.registry, auth.lookup(ref.registry, opts.authfile),
                    insecure=opts.insecure or insecure_in_conf(ref.registry), timeout=opts.timeout,
                    cert_dir=opts.cert_dir)


def pull_one(store: Store, ref: refs.Reference, opts: PullOptions, progress=None) -> tuple[Image, list[str]]:
    what = f"pull {ref}"
    reg = _registry(ref, opts)
    data, ctype = reg.manifest(ref.repository, ref.digest or ref.tag or "latest", M.ACCEPT, what)
    digest = _digest_of(data, ref.digest, what)
    doc = M.parse_json(data, f"{what}: manifest")
    mt = M.agreed_type(doc, ctype if ctype.startswith("application/vnd.") else None, f"{what}: manifest")
    extra: list[str] = []
    store.ensure()
    store.collect_tmp()
    with store.gc_lock(shared=True):
        if mt in M.INDEXES:
            extra.append(store.put_bytes(data, digest))
            desc = M.choose(doc, M.parse_platform(opts.platform), f"{what}: index")
            data, ctype = reg.manifest(ref.repository, desc["digest"], ", ".join(M.MANIFESTS), what)
            digest = _digest_of(data, desc["digest"], what)
            if len(data) != desc["size"]:
                raise ConfigError(f"{what}: manifest {digest}: {len(data)} bytes, the index says {desc['size']}")
            doc = M.parse_json(data, f"{what}: manifest")
            mt = M.agreed_type(doc, desc.get("mediaType"), f"{what}: manifest {digest}")
        M.check_manifest(doc, mt, f"{what}: manifest {digest}")
        store.put_bytes(data, digest)
        blobs = [doc["config"]] + list(doc["layers"])
        fetch_all(store, reg, ref.repository, blobs, what, opts.jobs, progress)
        cfg = M.parse_json(store.read_blob(doc["config"]["digest"]), f"{what}: config")
        diff_ids = M.check_config(cfg, len(doc["layers"]), f"{what}: config")
        unpack_all(store, doc["layers"], diff_ids, opts.jobs, progress)
        names = [] if ref.digest and not ref.tag else [str(refs.Reference(ref.registry, ref.repository,
                                                                          ref.tag, None))]
        return M.commit(store, digest, names, [f"{ref.name}@{digest}"], extra_blobs=extra)


def _digest_of(data: bytes, expected: str | None, what: str) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if expected and expected.startswith("sha256:") and digest != expected:
        raise ConfigError(f"{what}: manifest content is {digest}, expected {expected} (digest mismatch)")
    return digest


def _parallel(fn, items: list, jobs: int) -> None:
    if len(items) <= 1 or jobs <= 1:
        for it in items:
            fn(it)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(jobs, len(items))) as pool:
        futures = [pool.submit(fn, it) for it in items]
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e


def fetch_all(store: Store, reg: Registry, repo: str, descs: list[dict], what: str, jobs: int, progress) -> None:
    seen: dict[str, dict] = {d["digest"]: d for d in descs}
    _parallel(lambda d: fetch_blob(store, reg, repo, d, what, progress), list(seen.values()), jobs)


def unpack_all(store: Store, layers: list[dict], diff_ids: list[str], jobs: int, progress) -> None:
    def one(pair: tuple[dict, str]) -> None:
        desc, diff_id = pair
        store.ensure_layer(desc["digest"], diff_id, f"layer {desc['digest'][:19]}")
        if progress is not None:
            progress("unpacked", desc["digest"], desc["size"], desc["size"])

    _parallel(one, list(zip(layers, diff_ids)), jobs)


def fetch_blob(store: Store, reg: Registry, repo: str, desc: dict, what: str, progress=None) -> None:
    """Download one blob (once: its lock) into partial/, resuming, then verify and adopt it."""
    from .store import digest_hex
    from .verify import Verifier

    digest, size = desc["digest"], desc["size"]
    with store.digest_lock(digest):
        if store.has_blob(digest):
            if progress is not None:
                progress("exists", digest, size, size)
            return
        partial = f"{store.root}/partial/{digest_hex(digest)}"
        bwhat = f"{what}: blob {digest}"
        for attempt in range(1, RETRIES + 1):
            v = Verifier(digest, size, bwhat)
            try:
                _download(reg, repo, partial, v, bwhat, progress)
                break
            except (RegistryError, OSError, EOFError):
                if attempt == RETRIES:  # else resume from what partial/ has
                    raise
        try:
            v.check()
        except ConfigError:
            os.unlink(partial)
            raise
        store.adopt(partial, digest)
        if progress is not None:
            progress("done", digest, size, size)


def _download(reg: Registry, repo: str, partial: str, v, what: str, progress) -> None:
    import http.client

    have = 0
    try:
        with open(partial, "rb") as f:  # an earlier, interrupted download: hash what it got
            while chunk := f.read(1 << 20):
                if v.n + len(chunk) > (v.size or 0):
                    break
                v.update(chunk)
        have = v.n
    except FileNotFoundError:
        pass
    if progress is not None:
        progress("start", v.digest, have, v.size)
    if have and have == v.size:
        return
    r = reg.get(repo, f"blobs/{v.digest}", what, {"Range": f"bytes={have}-"} if have else None)
    try:
        if r.status == 200 and have:  # no range support: start over
            v.__init__(v.digest, v.size, v.what)
        mode = "ab" if v.n else "wb"
        with open(partial, mode) as out:
            if mode == "ab":
                out.truncate(v.n)
            while True:
                try:
                    chunk = r.read(1 << 18)
                except TimeoutError:
                    raise RegistryError(f"{what}: the registry stopped sending for {reg.timeout:g}s") from None
                except http.client.IncompleteRead as e:
                    out.write(e.partial)
                    v.update(e.partial)
                    raise RegistryError(f"{what}: the connection closed early (stopped sending)") from None
                if not chunk:
                    break
                v.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress("bytes", v.digest, v.n, v.size)
    finally:
        r.close()
