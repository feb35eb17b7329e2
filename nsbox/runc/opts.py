"""Per-verb option parsing: nsbox's fast parser (cli/args.py), runc's spelling."""

from __future__ import annotations

from ..cli.args import Command, Opt, UsageError

__all__ = ["Opt", "parse", "UsageError", "one_id"]


def parse(name: str, usage: str, options: list[Opt], argv: list[str],
          positionals: int | None = None) -> tuple[dict, list[str]]:
    import sys

    cmd = Command(name, usage, "", options, positionals)
    # urfave/cli also takes long options with one dash (-bundle); ours need two
    argv = ["-" + a if a.startswith("-") and not a.startswith("--") and len(a) > 2 and "=" not in a[:3]
            and ("-" + a).partition("=")[0] in cmd._by_flag else a for a in argv]
    values, pos = cmd.parse(argv)
    if values.get("help"):
        sys.stdout.write(cmd.help_text().replace("usage: nsbox ", "usage: nsbox-runc ") + "\n")
        raise SystemExit(0)
    return values, pos


def one_id(name: str, pos: list[str], extra: int = 0) -> str:
    if not pos:
        raise UsageError(f"{name}: a container id is required")
    if len(pos) > 1 + extra:
        raise UsageError(f"{name}: unexpected argument `{pos[1 + extra]}`")
    return pos[0]
