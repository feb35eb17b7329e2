"""Execute a host binary from a sealed in-memory copy (runc's cloned binary).

A host binary run in a container's PID namespace (``enter --host-tools``, or
``enter`` without ``--mount``) is dumpable after execve: a process in the
container that can ptrace-read it (same ids, CAP_SYS_PTRACE or no fewer
capabilities) opens ``/proc/<pid>/exe``, waits for it to exit and reopens it
for writing: the host's binary, on the host's writable mount (CVE-2019-5736).
Running a sealed memfd copy instead leaves ``/proc/<pid>/exe`` pointing at
memory that no one can write (memfd_create(2) F_SEAL_WRITE).

Scripts: the kernel would open the ``#!`` interpreter by its host path, so the
interpreter is what is copied, and the script is passed to it (execve(2)'s own
argument order: interpreter, optional argument, script, arguments).
"""

from __future__ import annotations

import errno as E
import fcntl
import os

SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def resolve(name: str, path: str | None) -> str:
    """execvp(3)'s search; OSError(ENOENT/EACCES) as execvp would fail."""
    if "/" in name:
        _check(name)
        return name
    denied = False
    for d in (path if path is not None else DEFAULT_PATH).split(":"):
        cand = f"{d or '.'}/{name}"
        try:
            _check(cand)
            return cand
        except PermissionError:
            denied = True
        except OSError:
            continue
    raise OSError(E.EACCES if denied else E.ENOENT, os.strerror(E.EACCES if denied else E.ENOENT), name)


def _check(path: str) -> None:
    st = os.stat(path)
    if (st.st_mode & 0o170000) != 0o100000 or not os.access(path, os.X_OK):
        raise PermissionError(E.EACCES, os.strerror(E.EACCES), path)


def shebang(path: str) -> list[str] | None:
    """[interpreter, optional argument] of a ``#!`` script, else None (binfmt_script)."""
    with open(path, "rb") as f:
        head = f.read(256)
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].strip()
    if not line:
        raise OSError(E.ENOEXEC, os.strerror(E.ENOEXEC), path)
    interp, _, arg = line.replace(b"\t", b" ").partition(b" ")
    out = [interp.decode()]
    if arg.strip():
        out.append(arg.strip().decode())
    return out


def sealed_copy(path: str) -> int:
    """A memfd holding ``path``'s bytes, sealed against every change."""
    src = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(src).st_size
        fd = os.memfd_create(os.path.basename(path) or "exe", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            done = 0
            while done < size:
                n = os.sendfile(fd, src, done, size - done)
                if n == 0:
                    break
                done += n
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
        except BaseException:
            os.close(fd)
            raise
    finally:
        os.close(src)
    return fd


def exec_sealed(argv: list[str], env: dict[str, str] | None = None) -> None:
    """execvp(argv) through a sealed copy of the binary; raises OSError as execvp."""
    env = dict(os.environ) if env is None else env
    path = resolve(argv[0], env.get("PATH"))
    args = list(argv)
    interp = shebang(path)
    if interp is not None:
        args = [*interp, path, *argv[1:]]
        path = interp[0]
        _check(path)
    fd = sealed_copy(path)
    os.execve(fd, args, env)  # fexecve(3): the kernel runs the memfd, not the host path
