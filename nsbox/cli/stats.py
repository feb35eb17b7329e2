"""``nsbox stats [OPTIONS] [CONTAINER...]``: live resource usage, like ``docker stats``.

Columns and units are Docker's: CPU % (100% = one CPU), MEM USAGE / LIMIT in
binary units, NET I/O and BLOCK I/O in decimal units, PIDS.  On a terminal the
table is redrawn in place every second; ``--no-stream`` prints one sample;
``--format json`` prints one JSON object per container and sample (Docker's
keys, plus the raw numbers under ``raw``); ``--format '{{.Name}} {{.MemUsage}}'``
fills a template.
"""

from __future__ import annotations

import os
import sys
import time

from ..errors import ContainerNotFound
from .args import Command, Opt

INTERVAL = 1.0          # between refreshes (Docker's)
FIRST_INTERVAL = 0.5    # between the two samples of --no-stream (a CPU % needs two)
LIVE = ("running", "created", "paused")

OPTIONS = [
    Opt("-a --all", "all", "bool", "show every container (default: running ones)"),
    Opt("--no-stream", "no_stream", "bool", "print one sample and exit"),
    Opt("--format", "format", help="table (default), json, or a template like '{{.Name}}: {{.MemUsage}}'",
        metavar="FORMAT"),
    Opt("--no-trunc", "no_trunc", "bool", "show full container ids"),
]
COMMAND = Command("stats", "stats [OPTIONS] [CONTAINER...]",
                  "Show containers' CPU, memory, network, block I/O and process counts, live.", OPTIONS)
HEADER = ("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS")
KEYS = ("ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs")


def binary(n: int | None) -> str:
    """go-units BytesSize: 1.953MiB, 256MiB."""
    if n is None:
        return "--"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.4g}{unit}"
        value /= 1024
    return f"{n}B"


def decimal(n: int | None) -> str:
    """go-units HumanSizeWithPrecision(n, 3): 1.2kB, 105MB."""
    if n is None:
        return "--"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if value < 1000 or unit == "PB":
            return f"{value:.3g}{unit}"
        value /= 1000
    return f"{n}B"


class Target:
    """A container being watched: where its cgroup is, and its last sample."""

    def __init__(self, c) -> None:
        self.c = c
        st = c.state
        self.id = c.id
        self.name = st.get("name") or c.id[:12]
        self.pid = int(st.get("pid") or 0)
        self.status = st.get("status", "")
        self.path = next((r.get("path") for r in st.get("resources", []) if r.get("kind") == "cgroup"), None)
        self.prev = None
        self.cur = None

    def alive(self) -> bool:
        if self.status not in LIVE or self.pid <= 0:
            return False
        from ..procfs import alive

        return alive(self.pid, self.c.state.get("pidStart"))


def targets(store, names: list[str], show_all: bool) -> list[Target]:
    if names:
        return [Target(store.lookup(n)) for n in names]
    out = []
    for cid in store.ids():
        if cid.startswith("."):
            continue
        try:
            t = Target(store.lookup(cid))
        except (ContainerNotFound, OSError, ValueError):
            continue
        if show_all or t.alive():
            out.append(t)
    return out


def row(t: Target, ncpu_trunc: bool) -> dict[str, object]:
    from ..cgroups.stats import cpu_percent

    s = t.cur
    cpu = cpu_percent(t.prev, s) if s is not None and t.alive() else None
    live = s is not None and t.alive()
    usage, limit = (s.mem_usage, s.mem_limit) if live else (None, None)
    mem_pct = usage / limit * 100 if usage is not None and limit else None
    rx, tx = (s.net_rx, s.net_tx) if live else (None, None)
    br, bw = (s.blk_read, s.blk_write) if live else (None, None)
    pids = s.pids if live else None
    return {
        "ID": t.id if ncpu_trunc else t.id[:12], "Container": t.name, "Name": t.name,
        "CPUPerc": "--" if cpu is None else f"{cpu:.2f}%",
        "MemUsage": f"{binary(usage)} / {binary(limit)}",
        "MemPerc": "--" if mem_pct is None else f"{mem_pct:.2f}%",
        "NetIO": f"{decimal(rx)} / {decimal(tx)}", "BlockIO": f"{decimal(br)} / {decimal(bw)}",
        "PIDs": "--" if pids is None else str(pids),
        "raw": {"cpu_percent": cpu, "memory_usage": usage, "memory_limit": limit, "memory_percent": mem_pct,
                "net_rx": rx, "net_tx": tx, "block_read": br, "block_write": bw, "pids": pids},
    }


def table(rows: list[dict[str, object]]) -> list[str]:
    cells = [list(HEADER)] + [[str(r[k]) for k in KEYS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    return ["   ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]


def template(fmt: str, r: dict[str, object]) -> str:
    out = fmt.replace("\\t", "\t").replace("\\n", "\n")
    for key, value in r.items():
        if key != "raw":
            for spelling in ("{{.", "{{ ."):
                end = "}}" if spelling == "{{." else " }}"
                out = out.replace(spelling + key + end, str(value))
    return out


def render(rows: list[dict[str, object]], fmt: str | None) -> list[str]:
    if fmt in (None, "", "table"):
        return table(rows)
    if fmt == "json" or fmt == "{{json .}}":
        import json

        return [json.dumps(r, sort_keys=True) for r in rows]
    if fmt.startswith("table "):
        body = fmt[len("table "):]
        head = template(body, {k: h for k, h in zip(KEYS, HEADER)} | {"Container": "CONTAINER"})
        return [head] + [template(body, r) for r in rows]
    return [template(fmt, r) for r in rows]


def take(ts: list[Target], layout) -> None:
    from ..cgroups.stats import sample

    for t in ts:
        t.prev = t.cur
        t.cur = sample(layout, t.path, t.pid) if t.alive() else None


def main(argv: list[str]) -> int:
    values, names = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    fmt = values["format"]
    from ..cgroups.detect import detect
    from ..runtime import state as S
    from ..runtime.gc import collect

    store = S.Store()
    collect(store)
    layout = detect()
    ts = targets(store, names, values["all"])
    take(ts, layout)
    tty = sys.stdout.isatty() and not values["no_stream"] and fmt in (None, "", "table")
    try:
        time.sleep(FIRST_INTERVAL)
        first = True
        while True:
            take(ts, layout)
            lines = render([row(t, values["no_trunc"]) for t in ts], fmt)
            if tty:
                # redraw in place, as docker stats does: home, each line cleared, rest cleared
                out = ("\033[2J" if first else "") + "\033[H" + "".join(f"{ln}\033[K\n" for ln in lines) + "\033[J"
            else:
                out = "".join(f"{ln}\n" for ln in lines)
            sys.stdout.write(out)
            sys.stdout.flush()
            first = False
            if values["no_stream"]:
                return 0
            time.sleep(INTERVAL)
            if not names:  # follow containers that start and stop, as docker stats does
                known = {t.id: t for t in ts}
                ts = [known.get(t.id, t) for t in targets(store, [], values["all"])]
    except (KeyboardInterrupt, BrokenPipeError):
        try:
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        return 0
