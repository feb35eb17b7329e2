#!/bin/sh
# Container network throughput: nsbox vs Podman vs raw veth, with iperf3 (see bench/README.md); as root.
exec /usr/bin/python3 "$(dirname "$0")/net.py" "$@"
