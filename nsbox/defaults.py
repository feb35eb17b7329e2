"""Process-wide defaults the caller configures (``nsbox.configure``; the CLI from
its flags and NSBOX_* variables).  Below nsbox/cli/ nothing reads the
environment for its configuration: a library takes it from its caller."""

from __future__ import annotations

root: str | None = None            # state root; None: /run/nsbox, $XDG_RUNTIME_DIR/nsbox or /tmp/nsbox-UID
cgroup_parent: str = "/nsbox"      # nsbox's own cgroup parent (absolute)
network_dir: str | None = None     # network definitions and leases; None: /var/lib/nsbox/networks
storage: str | None = None         # the image store; None: /var/lib/nsbox/storage or $XDG_DATA_HOME/nsbox/storage
max_layer_size: int = 64 << 30     # unpacked bytes of one image layer (decompression bombs stop there)
registries_conf: str | None = None  # None: ~/.config/containers/registries.conf (rootless), /etc/containers/...
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
              network_dir: str | None = None, storage: str | None = None,
              max_layer_size: int | None = None, registries_conf: str | None = None) -> None:
    """Set where nsbox keeps its state, its cgroups, its networks and its images, for
    every later call in this process (the CLI's ``--root``/``--storage`` and NSBOX_ROOT,
    NSBOX_CGROUP_PARENT, NSBOX_NETWORK_DIR, NSBOX_STORAGE, NSBOX_MAX_LAYER_SIZE, and Podman's
    CONTAINERS_REGISTRIES_CONF).  None leaves a setting as it is.

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
    if storage is not None:
        if not storage.startswith("/"):
            raise ConfigError(f"configure: storage `{storage}`: must be an absolute path")
        g["storage"] = os.path.normpath(storage)
    if registries_conf is not None:
        g["registries_conf"] = os.path.abspath(registries_conf)
    if max_layer_size is not None:
        if max_layer_size <= 0:
            raise ConfigError(f"configure: max_layer_size `{max_layer_size}`: must be a positive number of bytes")
        g["max_layer_size"] = max_layer_size
