"""Tables show untrusted text (a container picks its own command line) safely."""

from nsbox.inspect.table import render


def test_control_characters_are_escaped_like_util_linux():
    evil = "sleep\x1b[2J\nFAKE 1 2 3\x9b"
    out = render(["NS", "COMMAND"], [["1", evil]])
    assert out.count("\n") == 2  # the header and one row: no forged line
    assert "\x1b" not in out and "\x9b" not in out
    assert "sleep\\x1b[2J\\x0aFAKE 1 2 3\\x9b" in out


def test_printable_text_is_unchanged():
    assert render(["A"], [["é ├─ x"]]) == "A\né ├─ x\n"
