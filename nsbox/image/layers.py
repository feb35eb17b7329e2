"""A layer blob (tar, gzip or zstd) -> a verified, unpacked layer directory.

The compression is recognised by its magic bytes (archives do not always label
their layers right); the uncompressed stream is hashed while it is unpacked and
must match the config's diff id, else nothing is kept.
"""

from __future__ import annotations

from ..errors import ConfigError, NsboxError
from .unpack import unpack_layer
from .verify import HashingReader

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def compression(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def unpack_blob(blob: str, dest: str, diff_id: str, what: str, limit: int) -> list[str]:
    """Unpack ``blob`` into ``dest``; ConfigError if its uncompressed digest is not ``diff_id``."""
    with open(blob, "rb") as f:
        kind = compression(f.read(4))
        f.seek(0)
        proc = None
        if kind == "gzip":
            import gzip

            stream = gzip.GzipFile(fileobj=f, mode="rb")
        elif kind == "zstd":
            stream, proc = _zstd(f, blob, what)
        else:
            stream = f
        reader = HashingReader(stream, limit, what)
        try:
            notes = unpack_layer(reader, dest, what, limit=limit)
            reader.drain()  # the tar's trailing blocks count in the diff id
        except (EOFError, OSError) as e:
            if isinstance(e, NsboxError):
                raise
            raise ConfigError(f"{what}: corrupt {kind} stream ({e})") from None
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()
    if reader.digest != diff_id:
        raise ConfigError(f"{what}: uncompressed content is {reader.digest}, the image config says {diff_id} "
                          "(diff id mismatch)")
    return notes


def _zstd(f, path: str, what: str):
    """A zstd decompressing stream: the zstandard module if installed, else the zstd program."""
    try:
        import zstandard
    except ImportError:
        pass
    else:
        return zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True), None
    import subprocess

    try:
        proc = subprocess.Popen(["zstd", "-dcq", "--", path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    except FileNotFoundError:
        raise ConfigError(f"{what}: a zstd layer needs the zstandard module (pip install zstandard) or the "
                          "zstd program") from None
    return proc.stdout, proc
