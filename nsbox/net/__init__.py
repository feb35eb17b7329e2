"""Container networking: modes, bridges, IPAM, nftables, rootless helpers.

Start-up rules: ``mode``, ``ports``, ``ipv4``, ``etcfiles`` and ``hook`` are
imported by ``nsbox run`` and stay free of heavy imports; pyroute2 and the
nftables library are loaded only by a container that needs more than loopback.
"""
