"""tests/programs.txt: the one table of programs the suite runs (scripts/test installs, conftest checks)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import PROGRAMS, missing_programs, required_programs

TESTS = Path(__file__).resolve().parent.parent
# programs started directly by the tests: subprocess.run(["X", ...]), Popen(["X", ...]), sh("X", ...)
CALL = re.compile(r'(?:subprocess\.(?:run|Popen|check_output|check_call)|\bsh)\(\s*\[?\s*"([\w./-]+)"')


def test_table_parses():
    table = dict(required_programs())
    assert table["ping"] == "iputils-ping"
    assert table["gcc"] == "gcc libc6-dev"
    assert len(table) == len(required_programs())  # each program listed once


def test_every_program_the_tests_start_is_in_the_table():
    table = dict(required_programs())
    started = set()
    for f in TESTS.rglob("*.py"):
        if f.name == "test_programs.py":
            continue
        started |= {m.rsplit("/", 1)[-1] for m in CALL.findall(f.read_text())}
    started -= {"nsbox", "python3", "cc"}  # the installed nsbox; the venv's python; gcc's alias
    assert started and not started - set(table), sorted(started - set(table))


def test_missing_program_message(tmp_path):
    table = tmp_path / "programs.txt"
    table.write_text("# comment\nsh dash unit\nno-such-program-x  iputils-ping\n")
    assert missing_programs(table) == [
        "missing program `no-such-program-x` (Debian package iputils-ping): run ./scripts/test to install it"]
    assert missing_programs(table, unit_only=True) == []  # only the unit tests' programs
    assert PROGRAMS.exists() and ("zstd", "zstd") in required_programs(unit_only=True)
