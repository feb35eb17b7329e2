"""nftables through libnftables' JSON API (libnftables-json(5)), in process.

Why libnftables over the ``nft`` binary: the same library and JSON schema, with
no fork/exec per batch (~2 ms to load once, ~1 ms per batch here, against ~8 ms
per ``nft -j -f -``), and each batch is one atomic netlink transaction.  Debian's
python3-nftables is the same ctypes wrapper but lives in the system Python only,
so nsbox carries the ten lines it needs; where libnftables.so.1 is missing the
``nft -j -f -`` binary is used instead (same JSON in and out).
"""

from __future__ import annotations

import ctypes
import os

from .. import jsonio
from ..errors import NsboxError

OUTPUT_HANDLE = 1 << 3   # enum nft_output_flags (libnftables.h)
OUTPUT_JSON = 1 << 4


class NftError(NsboxError):
    def __init__(self, msg: str, enoent: bool = False, eexist: bool = False) -> None:
        super().__init__(msg)
        self.enoent = enoent
        self.eexist = eexist


class Nft:
    """One libnftables context (or the nft binary)."""

    def __init__(self) -> None:
        self.lib = None
        self.ctx = None
        try:
            lib = ctypes.CDLL("libnftables.so.1", use_errno=True)
        except OSError:
            return
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        for fn in ("nft_ctx_buffer_output", "nft_ctx_buffer_error", "nft_ctx_free"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        for fn in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
            getattr(lib, fn).restype = ctypes.c_char_p
        ctx = lib.nft_ctx_new(0)
        if not ctx:
            return
        lib.nft_ctx_output_set_flags(ctx, OUTPUT_JSON | OUTPUT_HANDLE)
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        self.lib, self.ctx = lib, ctx

    def close(self) -> None:
        if self.lib is not None and self.ctx:
            self.lib.nft_ctx_free(self.ctx)
            self.ctx = None

    def run(self, commands: list[dict], what: str) -> dict | None:
        """Run a batch of JSON commands atomically; ``what`` names it in errors."""
        text = jsonio.dumps({"nftables": commands})
        out, err, rc = self._run(text)
        if rc != 0:
            # libnftables says ENOENT two ways: strerror, or (deleting a set element
            # that is not there) "element does not exist"
            raise NftError(f"{what}: nftables: {_first_error(err)}",
                           enoent="No such file or directory" in err or "does not exist" in err,
                           eexist="File exists" in err)
        return jsonio.loads(out) if out.strip() else None

    def run_text(self, text: str, what: str) -> None:
        """Run commands in nft's own syntax (a ruleset file's content)."""
        _out, err, rc = self._run(text)
        if rc != 0:
            raise NftError(f"{what}: nftables: {_first_error(err)}")

    def list(self, what: str, *args: str) -> list[dict]:
        """``list table ip nsbox`` etc.: the JSON objects (metainfo dropped)."""
        out, err, rc = self._run(" ".join(("list", what) + args))
        if rc != 0:
            raise NftError(f"list {what} {' '.join(args)}: nftables: {err.strip()}",
                           enoent="No such file or directory" in err)
        data = jsonio.loads(out) if out.strip() else {"nftables": []}
        return [x for x in data.get("nftables", []) if "metainfo" not in x]

    def _run(self, text: str) -> tuple[str, str, int]:
        if self.lib is None:
            return _binary(text)
        rc = self.lib.nft_run_cmd_from_buffer(self.ctx, text.encode())
        out = (self.lib.nft_ctx_get_output_buffer(self.ctx) or b"").decode()
        err = (self.lib.nft_ctx_get_error_buffer(self.ctx) or b"").decode()
        return out, err, rc


def _first_error(err: str) -> str:
    for line in err.splitlines():
        if "Error:" in line:
            return line.split("Error:", 1)[1].strip()
    return " ".join(x.strip() for x in err.splitlines() if x.strip() and not x.strip().startswith("^")) \
        or "failed"


def _binary(text: str) -> tuple[str, str, int]:
    import subprocess

    nft = next((p for p in ("/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft") if os.access(p, os.X_OK)), None)
    if nft is None:
        raise NftError("nftables: neither libnftables.so.1 nor the nft command is installed "
                       "(apt-get install nftables)")
    if text.startswith("list "):
        r = subprocess.run([nft, "-j", "-a", *text.split()], capture_output=True, text=True)
    else:
        json_in = ["-j"] if text.startswith("{") else []
        r = subprocess.run([nft, *json_in, "-f", "-"], input=text, capture_output=True, text=True)
    return r.stdout, r.stderr, r.returncode
