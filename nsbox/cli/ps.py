"""``nsbox ps`` (``ls``): list containers, as a table or JSON.

The status shown is the live one (state.Container.live_status): a container
whose init died while nothing watched is "Exited", never "Up".
"""

from __future__ import annotations

import sys
import time

from .args import Command, Opt, UsageError

COMMAND = Command("ps", "ps [-a] [-q] [--no-trunc] [--format table|json]",
                  "List running containers (-a: all, stopped ones too).",
                  [Opt("-a --all", "all", "bool", "show stopped containers too"),
                   Opt("-q --quiet", "quiet", "bool", "print only the ids"),
                   Opt("--no-trunc", "no_trunc", "bool", "full ids and commands"),
                   Opt("--format", "format", help="table (default) or json (an array of objects)",
                       metavar="FORMAT")], positionals=None)

HEADERS = ("ID", "NAME", "PID", "STATUS", "COMMAND", "CREATED")


def parse_time(stamp: str | None) -> float | None:
    """'2026-11-24T02:06:26.887387752Z' -> seconds since the epoch (UTC)."""
    if not stamp or len(stamp) < 19:
        return None
    import calendar

    try:
        t = (int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10]), int(stamp[11:13]), int(stamp[14:16]),
             int(stamp[17:19]), 0, 0, 0)
        frac = float("0" + stamp[19:].rstrip("Z")) if stamp[19:20] == "." else 0.0
    except ValueError:
        return None
    return calendar.timegm(t) + frac


def human(seconds: float) -> str:
    """Docker's go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 14:
        return f"{h // 24} days"
    if h < 24 * 60:
        return f"{h // (24 * 7)} weeks"
    if h < 24 * 365 * 2:
        return f"{h // (24 * 30)} months"
    return f"{h // (24 * 365)} years"


def status_text(e: dict, now: float) -> str:
    status = e["status"]
    if status in ("running", "paused"):
        since = parse_time(e["started"]) or parse_time(e["created"])
        text = "Up " + human(now - since) if since else "Up"
        return text + " (Paused)" if status == "paused" else text
    if status == "stopped":
        since = parse_time(e["finished"])
        return f"Exited ({e['exitCode']})" + (f" {human(now - since)} ago" if since else "")
    return status.capitalize()


def command_text(cmd: list[str], full: bool) -> str:
    import shlex

    text = shlex.join(cmd)
    return text if full or len(text) <= 30 else text[:29] + "\u2026"


def table(rows: list[list[str]]) -> str:
    from ..inspect.table import safe  # a container's command line may hold escape sequences

    rows = [[safe(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows) + "\n"


def collect_entries(show_all: bool) -> list[dict]:
    from ..runtime.listing import entries
    from .targets import store

    return entries(store(), show_all)


def main(argv: list[str]) -> int:
    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if rest:
        raise UsageError(f"ps: unexpected argument `{rest[0]}`")
    fmt = values["format"] or "table"
    if fmt not in ("table", "json"):
        raise UsageError(f"ps: --format `{fmt}`: expected table or json")
    entries = collect_entries(values["all"])
    full = values["no_trunc"]
    if values["quiet"]:
        sys.stdout.write("".join((e["id"] if full else e["id"][:12]) + "\n" for e in entries))
    elif fmt == "json":
        from .. import jsonio

        sys.stdout.write(jsonio.dumps(entries, indent=2) + "\n")
    else:
        now = time.time()
        rows = [list(HEADERS)]
        for e in entries:
            created = parse_time(e["created"])
            rows.append([e["id"] if full else e["id"][:12], e["name"], str(e["pid"]) if e["pid"] else "-",
                         status_text(e, now), command_text(e["command"], full),
                         f"{human(now - created)} ago" if created else "-"])
        sys.stdout.write(table(rows))
    return 0
