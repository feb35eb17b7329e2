"""``-p [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp]``: parsed without imports (start-up path)."""

from __future__ import annotations

from ..errors import ConfigError

PROTOCOLS = ("tcp", "udp")


class Port:
    """One published port; ``host_ip`` "" means every host address."""

    __slots__ = ("proto", "host_ip", "host_port", "port")

    def __init__(self, proto: str, host_ip: str, host_port: int, port: int) -> None:
        self.proto, self.host_ip, self.host_port, self.port = proto, host_ip, host_port, port

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Port) and self.key() == other.key()

    def __repr__(self) -> str:
        return f"Port({self})"

    def __str__(self) -> str:
        where = f"{self.host_ip}:" if self.host_ip else ""
        return f"{where}{self.host_port}:{self.port}/{self.proto}"

    def key(self) -> tuple[str, str, int, int]:
        return (self.proto, self.host_ip, self.host_port, self.port)

    def shown(self) -> str:
        """How errors name it: ``127.0.0.1:8080/tcp``."""
        return f"{self.host_ip + ':' if self.host_ip else ''}{self.host_port}/{self.proto}"

    def encode(self) -> str:
        return f"{self.proto}:{self.host_ip}:{self.host_port}:{self.port}"

    @classmethod
    def decode(cls, text: str) -> Port:
        proto, ip, hp, cp = text.split(":")
        return cls(proto, ip, int(hp), int(cp))


def _port(text: str, spec: str, what: str) -> int:
    if "-" in text:
        raise ConfigError(f"-p `{spec}`: port ranges are not supported (publish each port)")
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"-p `{spec}`: {what} `{text}` is not a port number (1-65535)")
    return int(text)


def parse(spec: str) -> Port:
    body, slash, proto = spec.partition("/")
    proto = proto.lower() if slash else "tcp"
    if proto not in PROTOCOLS:
        raise ConfigError(f"-p `{spec}`: protocol `{proto}` is not tcp or udp")
    if body.startswith("["):
        raise ConfigError(f"-p `{spec}`: IPv6 host addresses are not supported (bridge networks are IPv4)")
    parts = body.split(":")
    if len(parts) == 1:
        # Docker picks a random host port; nsbox publishes the same number.
        port = _port(parts[0], spec, "container port")
        return Port(proto, "", port, port)
    if len(parts) == 2:
        return Port(proto, "", _port(parts[0], spec, "host port"), _port(parts[1], spec, "container port"))
    if len(parts) == 3:
        ip = parts[0]
        if ip in ("", "0.0.0.0"):
            ip = ""
        else:
            from .ipv4 import parse as parse_ip

            parse_ip(ip, f"-p {spec}: host address")
        if not parts[1]:
            raise ConfigError(f"-p `{spec}`: give the host port (IP:HOSTPORT:CONTAINERPORT)")
        return Port(proto, ip, _port(parts[1], spec, "host port"), _port(parts[2], spec, "container port"))
    raise ConfigError(f"-p `{spec}`: expected [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp]")


def conflicts(a: Port, b: Port) -> bool:
    """Same protocol and host port, on the same host address or on every address."""
    return a.proto == b.proto and a.host_port == b.host_port and \
        (not a.host_ip or not b.host_ip or a.host_ip == b.host_ip)


def parse_all(specs: tuple[str, ...]) -> list[Port]:
    out: list[tuple[str, Port]] = []
    for s in specs:
        p = parse(s)
        for prev, q in out:
            if conflicts(p, q):
                raise ConfigError(f"-p `{s}`: host port {p.shown()} is already published by -p `{prev}`")
        out.append((s, p))
    return [p for _s, p in out]


def encode_all(ports: list[Port]) -> str:
    return ",".join(p.encode() for p in ports)


def decode_all(text: str) -> list[Port]:
    return [Port.decode(t) for t in text.split(",") if t]
