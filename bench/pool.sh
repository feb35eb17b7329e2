#!/bin/sh
# nsbox.Pool benchmark (see bench/README.md); as root. Installs runc, crun, bubblewrap, busybox-static.
exec /usr/bin/python3 "$(dirname "$0")/pool.py" "$@"
