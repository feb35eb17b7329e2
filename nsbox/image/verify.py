"""Digest and size verification of content as it streams by."""

from __future__ import annotations

import hashlib

from ..errors import ConfigError


class Verifier:
    """Hash and count bytes; :meth:`check` raises unless both match what the descriptor said."""

    def __init__(self, digest: str, size: int | None, what: str) -> None:
        algo, _, self.expected = digest.partition(":")
        self.digest = digest
        self.h = hashlib.new(algo)
        self.size = size
        self.n = 0
        self.what = what

    def update(self, data: bytes) -> None:
        self.n += len(data)
        if self.size is not None and self.n > self.size:
            raise ConfigError(f"{self.what}: more than the {self.size} bytes its descriptor declares")
        self.h.update(data)

    def check(self) -> None:
        if self.size is not None and self.n != self.size:
            raise ConfigError(f"{self.what}: size mismatch ({self.n} bytes, its descriptor declares {self.size})")
        got = self.h.hexdigest()
        if got != self.expected:
            raise ConfigError(f"{self.what}: digest mismatch (content is {self.h.name}:{got}, "
                              f"expected {self.digest})")


class HashingReader:
    """A read()-able stream that hashes (sha256) and counts what passes, up to ``limit`` bytes."""

    def __init__(self, raw, limit: int, what: str) -> None:
        self.raw = raw
        self.h = hashlib.sha256()
        self.n = 0
        self.limit = limit
        self.what = what

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n if n is not None and n >= 0 else 1 << 20)
        self.n += len(data)
        if self.limit and self.n > self.limit:
            from .unpack import TooLarge

            raise TooLarge(f"{self.what}: uncompressed size exceeds the limit of {self.limit} bytes "
                           "(a decompression bomb?)")
        self.h.update(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.h.hexdigest()
