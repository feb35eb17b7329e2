"""The network step of create(): dispatch on the mode the spec's annotations carry."""

from __future__ import annotations

from .mode import decode
from .ports import decode_all
from .spec import ANN_IP, ANN_NETWORK, ANN_PORTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime.create import Created


def setup(created: Created) -> None:
    from ..trace import mark

    ann = created.launch.spec.annotations
    mode = decode(ann.get(ANN_NETWORK, "none"))
    ports = decode_all(ann.get(ANN_PORTS, ""))
    ip = ann.get(ANN_IP)
    if mode.kind == "bridge":
        from .bridge import attach

        attach(created, mode, ports, ip)
    elif mode.kind == "veth":
        from .bridge import attach_veth

        attach_veth(created, mode, ip)
    elif mode.kind in ("pasta", "slirp4netns"):
        from .usermode import start

        start(created, mode, ports)
    mark(f"main: network {mode.kind} ready")
