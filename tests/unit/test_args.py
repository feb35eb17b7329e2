from __future__ import annotations

import pytest

from nsbox.cli.args import Command, Opt, UsageError
from nsbox.cli.run import COMMAND, options_from


def test_run_stops_at_the_command():
    values, rest = COMMAND.parse(["-it", "-e", "A=1", "--env=B=2", "--name", "x", "sh", "-c", "echo -e hi"])
    assert values["interactive"] and values["tty"]
    assert values["env"] == ["A=1", "B=2"] and values["name"] == "x"
    assert rest == ["sh", "-c", "echo -e hi"]
    values, rest = COMMAND.parse(["--", "-weird-cmd", "--x"])
    assert rest == ["-weird-cmd", "--x"]


def test_short_value_forms():
    values, _ = COMMAND.parse(["-eA=1", "-v/a:/b", "-w/tmp", "true"])
    assert values["env"] == ["A=1"] and values["volume"] == ["/a:/b"] and values["workdir"] == "/tmp"


def test_errors():
    with pytest.raises(UsageError, match="unknown option `--nope`"):
        COMMAND.parse(["--nope", "x"])
    with pytest.raises(UsageError, match="--name needs a value"):
        COMMAND.parse(["--name"])
    with pytest.raises(UsageError, match="takes no value"):
        COMMAND.parse(["--tty=maybe", "x"])


def test_interspersed_positionals():
    cmd = Command("rm", "rm [-f] NAME...", "", [Opt("-f --force", "force", "bool")])
    values, rest = cmd.parse(["a", "-f", "b"])
    assert values["force"] and rest == ["a", "b"]


def test_options_become_run_options():
    values, rest = COMMAND.parse(["--share", "net,uts", "--uidmap", "0:1:1", "true"])
    o = options_from(values, rest)
    assert o.share == ("net,uts",) and o.uidmap == ("0:1:1",) and o.command == ("true",)
