"""Process-wide defaults the caller configures (``nsbox.configure``; the CLI from
its flags and NSBOX_* variables).  Below nsbox/cli/ nothing reads the
environment for its configuration: a library takes it from its caller."""

from __future__ import annotations

root: str | None = None            # state root; None: /run/nsbox, $XDG_RUNTIME_DIR/nsbox or /tmp/nsbox-UID
cgroup_parent: str = "/nsbox"      # nsbox's own cgroup parent (absolute)
network_dir: str | None = None     # network definitions and leases; None: /var/lib/nsbox/networks
warning_hook = None                # the CLI's: print "nsbox: warning: ..."; else warnings.warn(LimitWarning)


def warn(message: str, collected: bool = False) -> None:
    """Report a limit or feature this machine could not honour (the run goes on):
    through the CLI's hook, else as a LimitWarning unless the caller ``collected``
    it to report itself (the API does, naming its keywords)."""
    hook = warning_hook
    if hook is not None:
        hook(message)
        return
    if collected:
        return
    import warnings

    from .errors import LimitWarning

    warnings.warn(message, LimitWarning, stacklevel=3)


def configure(*, root: str | None = None, cgroup_parent: str | None = None,
              network_dir: str | None = None) -> None:
    """Set where nsbox keeps its state, its cgroups and its networks, for every
    later call in this process (the CLI's ``--root`` and NSBOX_ROOT,
    NSBOX_CGROUP_PARENT, NSBOX_NETWORK_DIR).  None leaves a setting as it is.

    >>> nsbox.configure(root="/run/myapp/nsbox", cgroup_parent="/myapp")
    """
    import os

    from .errors import ConfigError

    g = globals()
    if root is not None:
        if not root.startswith("/"):
            raise ConfigError(f"configure: root `{root}`: must be an absolute path")
        g["root"] = os.path.normpath(root)
    if cgroup_parent is not None:
        if not cgroup_parent.startswith("/") or ".." in cgroup_parent.split("/"):
            raise ConfigError(f"configure: cgroup_parent `{cgroup_parent}`: must be an absolute cgroup "
                              "path without `..`")
        g["cgroup_parent"] = cgroup_parent.rstrip("/") or "/nsbox"
    if network_dir is not None:
        if not network_dir.startswith("/"):
            raise ConfigError(f"configure: network_dir `{network_dir}`: must be an absolute path")
        g["network_dir"] = network_dir
