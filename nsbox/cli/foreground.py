"""``nsbox run`` and ``nsbox exec`` in the foreground: the CLI's part of them.

The engine's stages (runtime/run.py, runtime/exec.py) never touch the caller's
signals or terminal; a command-line tool must: signals it receives are
forwarded to the container, the container becomes the terminal's foreground
process group (Ctrl-C reaches it once), ``-t`` proxies the pty.
"""

from __future__ import annotations

import _signal
import os

from ..errors import NsboxError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..specgen.options import ExecOptions, RunOptions

FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGCONT", "SIGALRM")


class Interrupted(NsboxError):
    """A signal arrived before the container started: set-up is abandoned."""

    def __init__(self, sig: int) -> None:
        super().__init__(f"interrupted by signal {sig} while starting the container")
        self.exit_code = 128 + sig


class Forwarder:
    """Pass the signals we get to the container's process.  Before it exists:
    ``early="raise"`` abandons the start (run), ``early="keep"`` keeps them and
    delivers them once it runs (exec: a SIGTERM right after start is not lost)."""

    def __init__(self, early: str = "raise") -> None:
        self.pid = 0
        self.early = early
        self.pending: list[int] = []
        self.saved: dict[int, object] = {}
        self.tty_fd = -1
        self.pgrp = os.getpgrp()

    def install(self) -> None:
        for name in FORWARDED:
            sig = getattr(_signal, name)
            self.saved[sig] = _signal.signal(sig, self._handle)

    def _handle(self, sig: int, _frame: object) -> None:
        if not self.pid:
            if self.early == "raise":
                raise Interrupted(sig)
            if sig in self.pending and sig == _signal.SIGINT:  # a second Ctrl-C: give up on the start
                raise KeyboardInterrupt
            self.pending.append(sig)
            return
        try:
            os.kill(self.pid, sig)  # our unreaped child: the pid cannot be reused
        except OSError:
            pass

    def attach(self, pid: int) -> None:
        self.pid = pid
        while self.pending:
            self._handle(self.pending.pop(0), None)

    def detach(self) -> None:
        self.pid = 0
        self.early = "keep"  # reaped: nothing to forward to, nothing to abandon

    def restore(self) -> None:
        for sig, old in self.saved.items():
            _signal.signal(sig, old)  # type: ignore[arg-type]
        self.saved.clear()
        if self.tty_fd >= 0:
            old = _signal.signal(_signal.SIGTTOU, _signal.SIG_IGN)
            try:
                os.tcsetpgrp(self.tty_fd, self.pgrp)
            except OSError:
                pass
            _signal.signal(_signal.SIGTTOU, old)
            self.tty_fd = -1

    def give_terminal(self, pid: int) -> None:
        """Make the container the terminal's foreground process group (as a shell
        does for a job), so Ctrl-C reaches it once, from the terminal."""
        for fd in (0, 1, 2):
            try:
                if os.isatty(fd) and os.tcgetpgrp(fd) == self.pgrp:
                    os.setpgid(pid, pid)
                    old = _signal.signal(_signal.SIGTTOU, _signal.SIG_IGN)
                    try:
                        os.tcsetpgrp(fd, pid)
                    finally:
                        _signal.signal(_signal.SIGTTOU, old)
                    self.tty_fd = fd
                    return
            except OSError:
                continue


def run(opts: RunOptions) -> int:
    """``nsbox run`` without -d: the container's exit status."""
    from ..runtime import state as S
    from ..runtime.run import abandon, exited, finish, launch, wait_exit
    from ..trace import mark

    fwd = Forwarder(early="raise")
    fwd.install()
    terminal: list = []

    def before_start(created) -> None:  # noqa: ANN001
        fwd.pid = created.pid
        if created.pty_master >= 0:
            from .terminal import Terminal

            terminal.append(Terminal(created.pty_master).__enter__())  # raw mode and size before it runs
        else:
            fwd.give_terminal(created.pid)

    try:
        try:
            created = launch(opts, S.Store(), before_start=before_start)
        except BaseException:
            if terminal:
                terminal[0].__exit__(None, None, None)
            raise
        try:
            if terminal:
                try:
                    terminal[0].pump(created.pid)
                finally:
                    terminal[0].__exit__(None, None, None)
            code = wait_exit(created.pid)
            fwd.detach()
            exited(created, code)
        except BaseException:
            abandon(created)
            raise
        finish(created, code)
        mark("run: cleaned up")
        if created.oom_kills:
            from ..cgroups.oom import message
            from .main import err

            err(message(created, code))
        return code
    finally:
        fwd.restore()


def exec_(opts: ExecOptions) -> int:
    """``nsbox exec``: the command's exit status (0 at once with -d)."""
    from ..runtime.exec import spawn_in, wait

    fwd = Forwarder(early="keep")
    if not opts.detach:
        fwd.install()  # from now on a signal is the command's, delivered once it runs
    try:
        pid, master = spawn_in(opts)
        if opts.detach:
            return 0
        fwd.attach(pid)
        if master >= 0:
            from .terminal import Terminal

            term = Terminal(master)
            term.stdin_open = opts.interactive
            with term:
                term.pump(pid)
            os.close(master)
        return wait(pid)
    finally:
        fwd.restore()
