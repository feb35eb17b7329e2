"""``nsbox logs [-f] [--tail N] NAME``: the output of a detached container.

stdout and stderr of a detached container share one file, in the order they
were written (runtime/detach.py); ``-f`` follows it until the container exits.
"""

from __future__ import annotations

import os
import sys
import time

from .args import Command, Opt, UsageError

COMMAND = Command("logs", "logs [-f] [--tail N] NAME", "Print the output of a detached container.",
                  [Opt("-f --follow", "follow", "bool", "keep printing new output until the container exits"),
                   Opt("-n --tail", "tail", help="only the last N lines (default: all)", metavar="N")])
POLL = 0.05


def tail_offset(fd: int, lines: int) -> int:
    """Offset of the start of the last ``lines`` lines of the file."""
    size = os.fstat(fd).st_size
    if lines <= 0:
        return size
    pos, count = size, 0
    end_nl = os.pread(fd, 1, size - 1) == b"\n" if size else False
    want = lines + (1 if end_nl else 0)
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        chunk = os.pread(fd, step, pos)
        i = len(chunk)
        while True:
            i = chunk.rfind(b"\n", 0, i)
            if i < 0:
                break
            count += 1
            if count == want:
                return pos + i + 1
    return 0


def copy(fd: int, out) -> int:
    n = 0
    while True:
        data = os.read(fd, 65536)
        if not data:
            out.flush()
            return n
        out.write(data)
        n += len(data)


def main(argv: list[str]) -> int:
    values, names = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if len(names) != 1:
        raise UsageError("logs: give exactly one container name or id")
    tail = -1
    if values["tail"] not in (None, "all"):
        if not str(values["tail"]).isdigit():
            raise UsageError(f"logs: --tail `{values['tail']}`: expected a number of lines or `all`")
        tail = int(values["tail"])
    from ..errors import NsboxError
    from .targets import store

    c = store().lookup(names[0])
    try:
        fd = os.open(c.log_path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        if not os.path.isdir(c.path):
            raise NsboxError(f"no such container: `{names[0]}`") from None
        raise NsboxError(f"logs `{names[0]}`: no log: the container was not started with -d "
                         "(its output went to the terminal that ran it)") from None
    out = sys.stdout.buffer
    try:
        if tail >= 0:
            os.lseek(fd, tail_offset(fd, tail), os.SEEK_SET)
        copy(fd, out)
        while values["follow"]:
            # the last read after the supervisor let go gets everything
            done = not c.owner_alive()
            if not copy(fd, out):
                if done:
                    break
                time.sleep(POLL)
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)
    return 0
