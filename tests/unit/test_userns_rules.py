from __future__ import annotations

import errno

import pytest

from nsbox.errors import ConfigError, UserNamespaceUnavailable
from nsbox.kernel.errors import KernelError
from nsbox.runtime import userns as U


def test_rules_ok():
    U.check_rules("uid", [(0, 1000, 1), (1, 100000, 65536)])


@pytest.mark.parametrize("rs,msg", [
    ([], "empty"),
    ([(0, 1, 0)], "size must be > 0"),
    ([(0, 100, 10), (9, 200, 1)], "overlap on the inside"),
    ([(0, 100, 10), (50, 105, 1)], "overlap on the outside"),
    ([(0, 4294967294, 2)], "past the largest id"),
    ([(i, 1000 + i, 1) for i in range(341)], "at most 340"),
])
def test_rules_broken(rs, msg):
    with pytest.raises(ConfigError, match=msg):
        U.check_rules("uid", rs)


def test_rootless_limits(tmp_path):
    sub = tmp_path / "subuid"
    sub.write_text("alice:100000:65536\n")
    U.check_rootless("uid", [(0, 1000, 1)], 1000, "alice", str(sub))  # own id: written directly
    with pytest.raises(ConfigError, match="are not yours"):
        U.check_rootless("uid", [(0, 1000, 1), (1, 300000, 10)], 1000, "alice", str(sub))


def test_lookups():
    rs = [(0, 1000, 1), (1, 100000, 65536)]
    assert U.maps_id(rs, 0) and U.maps_id(rs, 65536) and not U.maps_id(rs, 65537)
    assert U.to_host(rs, 5) == 100004 and U.to_host(rs, 70000) is None


@pytest.mark.parametrize("files,needle", [
    ({"kernel/unprivileged_userns_clone": "0"}, "unprivileged_userns_clone=1"),
    ({"user/max_user_namespaces": "0"}, "max_user_namespaces=15000"),
    ({"kernel/apparmor_restrict_unprivileged_userns": "1"}, "apparmor_restrict_unprivileged_userns=0"),
])
def test_diagnose_unshare(tmp_path, files, needle):
    for name, value in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(value + "\n")
    err = U.diagnose_unshare(KernelError(errno.EPERM, "unshare CLONE_NEWUSER"), str(tmp_path))
    assert isinstance(err, UserNamespaceUnavailable)
    assert needle in str(err) and "unshare CLONE_NEWUSER: Operation not permitted" in str(err)
