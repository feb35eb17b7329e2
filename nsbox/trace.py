"""NSBOX_TRACE=1: timestamps of start-up stages on stderr, across the processes.

Times are CLOCK_MONOTONIC in ms (comparable between the parent and children,
unless a time namespace offsets them).
"""

from __future__ import annotations

import os
import time

ON = False  # set by the CLI from NSBOX_TRACE (cli/main.py), or by a caller


def mark(what: str) -> None:
    if ON:
        os.write(2, f"[trace {os.getpid()} {time.monotonic() * 1000:.2f}] {what}\n".encode())
