"""``nsbox audit NAME|PID``: an isolation report; exit 1 when a finding is high."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMAND = Command(
    "audit", "audit [--format table|json] [--fail-on SEVERITY] NAME|PID",
    "Report how a container or any process is isolated: the eight namespaces against the host's,\n"
    "whether root inside is root outside, capabilities, no_new_privs, seccomp, mount propagation,\n"
    "writable /proc/sys and /sys, host devices. Each finding has a severity and a reason.\n"
    "Exit status: 1 when a finding is high (see --fail-on), 0 otherwise.",
    [Opt("--format", "format", help="table (default) or json", metavar="FORMAT"),
     Opt("-J --json", "json", "bool", "same as --format json"),
     Opt("--fail-on", "fail_on", help="exit 1 on a finding this severe or worse: high (default), "
         "medium, low, or never", metavar="SEVERITY"),
     Opt("-q --quiet", "quiet", "bool", "show only findings that are not ok or info")])


def main(argv: list[str]) -> int:
    values, refs = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if len(refs) != 1:
        raise UsageError("audit: expected one container name or PID (see nsbox audit --help)")
    fmt = "json" if values["json"] else (values["format"] or "table")
    if fmt not in ("table", "json"):
        raise UsageError(f"audit --format `{fmt}`: expected table or json")
    fail_on = values["fail_on"] or "high"
    levels = {"high": 1, "medium": 2, "low": 3, "never": 0}
    if fail_on not in levels:
        raise UsageError(f"audit --fail-on `{fail_on}`: expected high, medium, low or never")
    from ..inspect.audit import SEVERITIES, gather, judge
    from ..inspect.target import resolve

    target = resolve(refs[0], "audit")
    findings = judge(gather(target.pid))
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    failing = SEVERITIES[:levels[fail_on]]
    code = 1 if any(counts[s] for s in failing) else 0
    if fmt == "json":
        from .. import jsonio

        doc = {"target": refs[0], "pid": target.pid, "container": target.container.id if target.container else None,
               "findings": [f.as_dict() for f in findings], "summary": counts, "passed": code == 0}
        sys.stdout.write(jsonio.dumps(doc, indent=2) + "\n")
        return code
    from ..inspect.table import render

    shown = [f for f in findings if not values["quiet"] or f.severity not in ("ok", "info")]
    rows = [[f.severity.upper(), f.check, f.finding + (f": {f.why}" if f.why else "")] for f in shown]
    sys.stdout.write(f"audit of {target.label} (pid {target.pid})\n")
    sys.stdout.write(render(("SEVERITY", "CHECK", "FINDING"), rows))
    summary = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES[:3])
    sys.stdout.write(f"{summary}: {'FAIL' if code else 'pass'}\n")
    return code
