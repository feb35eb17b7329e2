"""IPv4 addresses as integers (the ipaddress module costs ~12 ms to import)."""

from __future__ import annotations

from ..errors import ConfigError


def parse(text: str, what: str = "address") -> int:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 for p in parts):
        raise ConfigError(f"{what} `{text}`: not an IPv4 address")
    value = 0
    for p in parts:
        n = int(p)
        if n > 255:
            raise ConfigError(f"{what} `{text}`: not an IPv4 address")
        value = value << 8 | n
    return value


def fmt(value: int) -> str:
    return ".".join(str(value >> s & 255) for s in (24, 16, 8, 0))


def mask(prefix: int) -> int:
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0


def parse_cidr(text: str, what: str = "subnet", strict: bool = True) -> tuple[int, int]:
    """``10.89.0.0/24`` -> (network, prefix).  ``strict``: host bits must be zero."""
    addr, slash, plen = text.partition("/")
    if not slash or not plen.isdigit() or not 0 <= int(plen) <= 32:
        raise ConfigError(f"{what} `{text}`: expected an IPv4 network like 10.89.0.0/24")
    value, prefix = parse(addr, what), int(plen)
    if strict and value & ~mask(prefix) & 0xFFFFFFFF:
        raise ConfigError(f"{what} `{text}`: host bits are set (did you mean "
                          f"{fmt(value & mask(prefix))}/{prefix}?)")
    return value, prefix


def cidr(value: int, prefix: int) -> str:
    return f"{fmt(value)}/{prefix}"


def contains(net: int, prefix: int, addr: int) -> bool:
    return (addr & mask(prefix)) == net


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    p = min(a[1], b[1])
    return (a[0] & mask(p)) == (b[0] & mask(p))


def hosts(net: int, prefix: int) -> tuple[int, int]:
    """First and last usable host address (network and broadcast excluded)."""
    size = 1 << (32 - prefix)
    if prefix >= 31:
        return net, net + size - 1
    return net + 1, net + size - 2


def is_loopback(text: str) -> bool:
    return text.startswith("127.") or text == "::1"
