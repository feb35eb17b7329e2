"""The network step of ``create``: what runs in the parent once init's namespaces exist.

Light on purpose: a container with loopback only returns None here and never
imports pyroute2 or the nftables library.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime.create import Created
    from ..spec.model import Spec

ANN_NETWORK = "run.nsbox.network"
SETUP_KINDS = ("bridge", "veth", "slirp4netns", "pasta")


def before_start(spec: Spec):
    """A ``before_start(created)`` callback for runtime.create.create(), or None."""
    mode = spec.annotations.get(ANN_NETWORK, "")
    if mode.partition(":")[0] not in SETUP_KINDS:
        return None

    def network_setup(created: Created) -> None:
        from .setup import setup

        setup(created)

    return network_setup
