"""kernel/caps.py: names, masks, /proc/PID/status parsing (no privileges needed)."""

from __future__ import annotations

import pytest

from nsbox.kernel import caps

DEFAULT_MASK = 0x800405FB  # CapEff of a default `podman run` (4.0+) process, and of nsbox's
DOCKER_DEFAULT_MASK = 0xA80425FB  # CapEff of a default `docker run` process: + NET_RAW, MKNOD, AUDIT_WRITE


def test_table_covers_capabilities_7():
    assert caps.NUMBERS["CAP_CHOWN"] == 0
    assert caps.NUMBERS["CAP_NET_RAW"] == 13
    assert caps.NUMBERS["CAP_SYS_ADMIN"] == 21
    assert caps.NUMBERS["CAP_AUDIT_READ"] == 37
    assert caps.NUMBERS["CAP_PERFMON"] == 38
    assert caps.NUMBERS["CAP_BPF"] == 39
    assert caps.NUMBERS["CAP_CHECKPOINT_RESTORE"] == 40
    assert caps.LAST_KNOWN == 40
    assert len(set(caps.NAMES)) == 41


@pytest.mark.parametrize("spelling", ["net_raw", "NET_RAW", "cap_net_raw", "CAP_NET_RAW", " Net_Raw "])
def test_canonical_accepts_docker_spellings(spelling):
    assert caps.canonical(spelling) == "CAP_NET_RAW"


def test_unknown_name():
    assert caps.canonical("FLY") is None
    with pytest.raises(KeyError):
        caps.number("CAP_FLY")


def test_mask_round_trip():
    from nsbox.specgen.privileges import DEFAULT_CAPS

    mask = caps.to_mask(DEFAULT_CAPS)
    assert mask == DEFAULT_MASK
    assert sorted(caps.to_names(DOCKER_DEFAULT_MASK & ~mask)) == ["CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW"]
    assert sorted(caps.to_names(mask)) == sorted(DEFAULT_CAPS)
    assert caps.to_names(0) == []
    assert caps.to_names(1 << 45) == ["CAP_45"]  # newer than our table: still named


def test_status_sets_names_every_set(tmp_path):
    status = ("Name:\tsh\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n"
              "CapEff:\t00000000a80425fb\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000400\n")
    sets = caps.status_sets(status)
    assert sets["inheritable"] == []
    assert "CAP_NET_RAW" in sets["effective"] and "CAP_SYS_ADMIN" not in sets["effective"]
    assert len(sets["bounding"]) == 41
    assert sets["ambient"] == ["CAP_NET_BIND_SERVICE"]
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "status").write_text(status)
    assert caps.process_sets(42, proc=str(tmp_path)) == sets


def test_own_sets_are_readable():
    eff, prm, _inh = caps.capget()
    assert eff & ~prm == 0  # effective is always within permitted
    with open("/proc/self/status") as f:
        text = f.read()
    assert caps.to_names(eff) == caps.status_sets(text)["effective"]
    assert caps.bounding() == caps.parse_hex(text.split("CapBnd:")[1].split()[0])
    assert caps.probe_last_cap() == caps.last_cap()


def test_both_sides(tmp_path):
    status = "CapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n"
    for pid, ns in (("7", "user:[4026532000]"), ("1", "user:[4026531837]"), ("8", "user:[4026531837]")):
        (tmp_path / pid / "ns").mkdir(parents=True)
        (tmp_path / pid / "status").write_text(status)
        (tmp_path / pid / "ns" / "user").symlink_to(ns)
    inside = caps.both_sides(7, proc=str(tmp_path))
    assert len(inside["inside"]["effective"]) == 41  # all of them in its own user namespace...
    assert inside["host_user_namespace"] is False and inside["effective_on_host"] == []  # ...none outside
    host = caps.both_sides(8, proc=str(tmp_path))
    assert host["host_user_namespace"] is True and len(host["effective_on_host"]) == 41
