"""``nsbox inspect [-f FORMAT] NAME|PID...``: a process's isolation as JSON."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMAND = Command(
    "inspect", "inspect [-f FORMAT] NAME|PID...",
    "Show a container's or any process's namespaces, id maps, capabilities, seccomp, cgroup,\n"
    "hostname, root and mounts as JSON (an array when several are given).",
    [Opt("-f --format", "format", help="json (default), or a template: '{{.pid}}', "
         "'{{.process.comm}} {{.hostname}}'", metavar="FORMAT")])


def lookup(doc: object, path: str) -> object:
    """``.a.b.0`` in ``doc`` (keys match ignoring case and underscores, so
    Docker's ``{{.State.Pid}}`` spelling of ``{{.state.pid}}`` works too)."""
    cur = doc
    for part in path.strip(".").split("."):
        if not part:
            continue
        if isinstance(cur, dict):
            key = part if part in cur else next(
                (k for k in cur if k.replace("_", "").lower() == part.replace("_", "").lower()), None)
            if key is None:
                raise UsageError(f"inspect: format field `{path}`: no field `{part}`")
            cur = cur[key]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise UsageError(f"inspect: format field `{path}`: no field `{part}`")
    return cur


def render_template(template: str, doc: object) -> str:
    from .. import jsonio

    out = []
    rest = template.replace("\\n", "\n").replace("\\t", "\t")
    while "{{" in rest:
        before, _, tail = rest.partition("{{")
        expr, sep, rest = tail.partition("}}")
        if not sep:
            raise UsageError(f"inspect: format `{template}`: unclosed {{{{")
        out.append(before)
        expr = expr.strip()
        as_json = expr.startswith("json ")
        value = lookup(doc, expr[5:].strip() if as_json else expr)
        if as_json or isinstance(value, (dict, list)):
            out.append(jsonio.dumps(value))
        elif value is None:
            out.append("<no value>")
        elif isinstance(value, bool):
            out.append("true" if value else "false")
        else:
            out.append(str(value))
    out.append(rest)
    return "".join(out)


def main(argv: list[str]) -> int:
    values, refs = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if not refs:
        raise UsageError("inspect: a container name or PID is needed (see nsbox inspect --help)")
    from .. import jsonio
    from ..inspect.info import inspect
    from ..inspect.target import open_store, resolve

    store = open_store()
    docs = [inspect(resolve(ref, "inspect", store, running=False)) for ref in refs]
    fmt = values["format"]
    if fmt and fmt != "json":
        for doc in docs:
            sys.stdout.write(render_template(fmt, doc) + "\n")
        return 0
    sys.stdout.write(jsonio.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n")
    return 0
