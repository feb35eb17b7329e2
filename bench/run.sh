#!/bin/sh
# nsbox run start-up benchmark (see bench/README.md); as root. run.py apt-installs runc, crun, bubblewrap, busybox-static.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
