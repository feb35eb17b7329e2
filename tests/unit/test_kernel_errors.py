from __future__ import annotations

import errno

import pytest

from nsbox.kernel import mount as M
from nsbox.kernel.errors import KernelError, wrap


def test_mount_error_names_both_ends_and_keeps_errno():
    with pytest.raises(KernelError) as e:
        M.mount("proc", "/nonexistent/nsbox-test/proc", "proc", 0, None, label="/proc")
    assert e.value.errno in (errno.ENOENT, errno.EPERM)
    assert str(e.value).startswith("mount `proc` to `/proc`: ")
    assert "Traceback" not in str(e.value)


def test_wrap_adds_context():
    err = KernelError(errno.EACCES, "mkdir `/x`", "/x")
    w = wrap(err, "creating cgroup directory `/x`")
    assert str(w) == "creating cgroup directory `/x`: mkdir `/x`: Permission denied"
    assert w.errno == errno.EACCES


def test_flag_names():
    assert M.flag_names(M.MS_BIND | M.MS_REC) == "MS_BIND|MS_REC"
    assert M.parse_options(["ro", "nosuid", "rbind", "rslave", "mode=755"]) == (
        M.MS_RDONLY | M.MS_NOSUID | M.MS_BIND | M.MS_REC, M.MS_SLAVE | M.MS_REC, "mode=755")
    assert M.parse_options(["ro", "rw"])[0] == 0
