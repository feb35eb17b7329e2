"""A small, fast option parser for nsbox's subcommands.

argparse imports re and gettext (~15 ms here), a tenth of ``nsbox run``'s
budget.  This covers what the CLI needs: long and short options, ``--opt=value``
and ``-ovalue``, grouped short flags (``-it``), repeated options, ``--`` and a
command line that starts at the first positional (``nsbox run [OPTS] CMD ...``).
"""

from __future__ import annotations

from ..errors import NsboxError


class UsageError(NsboxError):
    exit_code = 2


class Opt:
    __slots__ = ("flags", "dest", "kind", "metavar", "help", "default")

    def __init__(self, flags: str, dest: str, kind: str = "value", help: str = "", metavar: str = "",
                 default: object = None) -> None:
        self.flags = tuple(flags.split())
        self.dest = dest
        self.kind = kind  # "bool", "value", "list", "count"
        self.help = help
        self.metavar = metavar or ("" if kind in ("bool", "count") else dest.upper())
        self.default = default


class Command:
    def __init__(self, name: str, usage: str, summary: str, options: list[Opt],
                 positionals: int | None = None) -> None:
        """``positionals``: how many positionals come before the rest is taken
        verbatim (0 for ``run``: the first positional starts the command; 1 for
        ``exec NAME CMD...``); None means options and positionals mix freely."""
        self.name = name
        self.usage = usage
        self.summary = summary
        self.options = options + [Opt("-h --help", "help", "bool", "show this help")]
        self.positionals = positionals
        self._by_flag = {f: o for o in self.options for f in o.flags}

    def help_text(self) -> str:
        lines = [f"usage: nsbox {self.usage}", "", self.summary, "", "options:"]
        for o in self.options:
            flags = ", ".join(o.flags) + (f" {o.metavar}" if o.metavar else "")
            lines.append(f"  {flags:<32} {o.help}")
        return "\n".join(lines)

    def parse(self, argv: list[str]) -> tuple[dict[str, object], list[str]]:
        values: dict[str, object] = {}
        for o in self.options:
            values[o.dest] = [] if o.kind == "list" else (0 if o.kind == "count" else
                                                          (False if o.kind == "bool" else o.default))
        positional: list[str] = []
        i = 0
        n = len(argv)
        while i < n:
            arg = argv[i]
            i += 1
            if arg == "--":
                positional.extend(argv[i:])
                break
            if arg.startswith("--") and len(arg) > 2:
                name, eq, val = arg.partition("=")
                o = self._by_flag.get(name)
                if o is None:
                    raise UsageError(f"{self.name}: unknown option `{name}` (see nsbox {self.name} --help)")
                if o.kind in ("bool", "count"):
                    if eq:
                        if val.lower() not in ("true", "false", "1", "0"):
                            raise UsageError(f"{self.name}: {name} takes no value (got `{val}`)")
                        values[o.dest] = val.lower() in ("true", "1")
                    else:
                        self._set(values, o, True)
                    continue
                if not eq:
                    if i >= n:
                        raise UsageError(f"{self.name}: {name} needs a value ({o.metavar})")
                    val = argv[i]
                    i += 1
                self._set(values, o, val)
                continue
            if arg.startswith("-") and len(arg) > 1:
                j = 1
                while j < len(arg):
                    flag = "-" + arg[j]
                    o = self._by_flag.get(flag)
                    if o is None:
                        raise UsageError(f"{self.name}: unknown option `{flag}` (see nsbox {self.name} --help)")
                    j += 1
                    if o.kind in ("bool", "count"):
                        self._set(values, o, True)
                        continue
                    if j < len(arg):
                        val = arg[j:]
                    elif i < n:
                        val = argv[i]
                        i += 1
                    else:
                        raise UsageError(f"{self.name}: {flag} needs a value ({o.metavar})")
                    self._set(values, o, val)
                    break
                continue
            positional.append(arg)
            if self.positionals is not None and len(positional) > self.positionals:
                positional.extend(argv[i:])
                break
        return values, positional

    @staticmethod
    def _set(values: dict[str, object], o: Opt, val: object) -> None:
        if o.kind == "list":
            values[o.dest].append(val)  # type: ignore[union-attr]
        elif o.kind == "count":
            values[o.dest] = int(values[o.dest]) + 1  # type: ignore[arg-type]
        else:
            values[o.dest] = val
