"""``nsbox pull [OPTIONS] REF``: an image from a registry, with a progress display per layer."""

from __future__ import annotations

import sys
import threading
import time

from .args import Command, Opt, UsageError

COMMAND = Command("pull", "pull [OPTIONS] REFERENCE", "Pull an image from a registry (a short name is looked "
                  "up in registries.conf's unqualified-search-registries, default docker.io).", [
                      Opt("--platform", "platform", help="from a multi-platform image, pull this one (default: "
                          "the host's)", metavar="OS/ARCH[/VARIANT]"),
                      Opt("-q --quiet", "quiet", "bool", "no progress; print only the image id"),
                      Opt("--authfile", "authfile", help="credentials file (default: nsbox's, Podman's, then "
                          "~/.docker/config.json)", metavar="FILE"),
                      Opt("--tls-verify", "tls_verify", help="false: allow plain HTTP for this registry",
                          metavar="BOOL"),
                      Opt("--cert-dir", "cert_dir", help="CA certificates (*.crt) of the registry (default: "
                          "/etc/containers/certs.d/HOST, ~/.config/containers/certs.d/HOST)", metavar="DIR"),
                      Opt("--timeout", "timeout", help="seconds to wait for the registry (default 30)",
                          metavar="SECONDS"),
                      Opt("-j --jobs", "jobs", help="parallel layer downloads (default 4)", metavar="N"),
                  ])


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


class Progress:
    """One line per layer when done (not a terminal); bars redrawn in place at a terminal."""

    def __init__(self, out, tty: bool) -> None:
        self.out, self.tty = out, tty
        self.lock = threading.Lock()
        self.rows: dict[str, list] = {}  # digest -> [done, total, start, state]
        self.drawn = 0
        self.last = 0.0

    def __call__(self, event: str, digest: str, done: int, total: int | None) -> None:
        with self.lock:
            row = self.rows.setdefault(digest, [0, total or 0, time.monotonic(), "waiting"])
            row[0] = done
            row[3] = {"start": "downloading", "bytes": "downloading", "done": "downloaded",
                      "exists": "already present", "unpacked": "unpacked"}[event]
            if self.tty:
                now = time.monotonic()
                if event == "bytes" and now - self.last < 0.1:
                    return
                self.last = now
                self._redraw()
            elif event in ("done", "exists", "unpacked"):
                self.out.write(self._line(digest, row) + "\n")
                self.out.flush()

    def _line(self, digest: str, row: list) -> str:
        done, total, start, state = row
        short = digest.partition(":")[2][:12]
        if state == "downloading" or state == "downloaded":
            secs = max(time.monotonic() - start, 1e-3)
            rate = f"{mb(done / secs)}/s"
            if self.tty and state == "downloading":
                width = 24
                fill = int(width * done / total) if total else 0
                return f"{short}: [{'=' * fill}{' ' * (width - fill)}] {mb(done)}/{mb(total)} {rate}"
            return f"{short}: {state} {mb(done)} in {secs:.1f}s ({rate})"
        return f"{short}: {state} ({mb(total)})"

    def _redraw(self) -> None:
        if self.drawn:
            self.out.write(f"\x1b[{self.drawn}A")
        for digest, row in self.rows.items():
            self.out.write("\x1b[2K" + self._line(digest, row) + "\n")
        self.drawn = len(self.rows)
        self.out.flush()


def pull_options(values: dict):
    from ..errors import ConfigError
    from ..image.pull import PullOptions

    timeout = values.get("timeout") or "30"
    jobs = values.get("jobs") or "4"
    try:
        t, j = float(timeout), int(jobs)
    except ValueError:
        raise ConfigError(f"pull: --timeout `{timeout}` / --jobs `{jobs}`: expected numbers") from None
    if t <= 0 or j < 1:
        raise ConfigError("pull: --timeout must be > 0 and --jobs >= 1")
    tls = (values.get("tls_verify") or "true").lower()
    if tls not in ("true", "false"):
        raise ConfigError(f"pull: --tls-verify `{tls}`: expected true or false")
    return PullOptions(platform=values.get("platform"), authfile=values.get("authfile"), insecure=tls == "false",
                       timeout=t, jobs=j, cert_dir=values.get("cert_dir"))


def main(argv: list[str]) -> int:
    from ..image.pull import pull
    from .storage import open_store

    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if len(rest) != 1:
        raise UsageError("pull: nsbox pull [OPTIONS] REFERENCE")
    progress = None if values["quiet"] else Progress(sys.stderr, sys.stderr.isatty())
    store = open_store().ensure()
    img, notes = pull(store, rest[0], pull_options(values), progress)
    for note in notes:
        sys.stderr.write(f"nsbox: note: {note}\n")
    if not values["quiet"]:
        sys.stderr.write(f"pulled {', '.join(img.names) or rest[0]}\n")
    sys.stdout.write(img.id + "\n")
    return 0
