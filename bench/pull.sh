#!/bin/sh
# nsbox pull / unpack benchmark (see bench/README.md); as root.
exec /usr/bin/python3 "$(dirname "$0")/pull.py" "$@"
