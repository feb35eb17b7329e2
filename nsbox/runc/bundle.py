"""A bundle's config.json -> nsbox.spec.Spec, checked as runtime.md asks.

Unknown properties are ignored (config.md "Extensibility": records only read
the fields they know); invalid values fail with their JSON path
(``linux.uidMappings[0].size: must be > 0``).  What the engine cannot honour
on this machine is refused with the reason, or, where config.md lets a
runtime do so, ignored with a warning that says why (``unsupported()``).
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..spec import model
from ..spec.record import SpecError

# runc/crun extensions to mount options that are not mount(2) flags
EXTENSION_OPTIONS = ("tmpcopyup", "notmpcopyup", "copy-symlink")
# config-linux.md "Default Devices" (and /dev/console, /dev/ptmx, /dev/pts/*): the
# runtime supplies them, so the device cgroup must let the container use them
# whatever linux.resources.devices denies before (later rules win).
DEFAULT_ALLOWED = (("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 1, 8), ("c", 1, 9), ("c", 5, 0), ("c", 5, 1),
                   ("c", 5, 2), ("c", 136, None))


def load(bundle: str) -> model.Spec:
    from .. import jsonio
    from ..spec.validate import problems

    path = f"{bundle}/config.json"
    try:
        data = jsonio.load_file(path)
    except FileNotFoundError:
        raise ConfigError(f"bundle `{bundle}`: no config.json") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"read `{path}`: {getattr(e, 'strerror', None) or e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"`{path}`: not a JSON object")
    spec = same_hostname(model.load(data))
    found = problems(spec) + checks(spec)
    if found:
        raise ConfigError("; ".join(str(e) for e in found))
    return resolve(spec, bundle)


def same_hostname(spec: model.Spec) -> model.Spec:
    """A hostname for a container in the host's UTS namespace is only accepted when
    it is the host's already (a CRI host-network pod gets the node's name): there
    is nothing to set, and setting another would rename the host."""
    linux = spec.linux or model.Linux()
    if spec.hostname is None or linux.namespace("uts") is not None:
        return spec
    if spec.hostname == os.uname().nodename:
        return spec.replace(hostname=None)
    return spec


def resolve(spec: model.Spec, bundle: str) -> model.Spec:
    """root.path relative to the bundle (config.md "Root"), extension mount options dropped."""
    if spec.root is not None and not spec.root.path.startswith("/"):
        spec = spec.replace(root=spec.root.replace(path=os.path.normpath(f"{bundle}/{spec.root.path}")))
    if any(o in EXTENSION_OPTIONS for m in spec.mounts for o in m.options):
        mounts = tuple(m.replace(options=tuple(o for o in m.options if o not in EXTENSION_OPTIONS))
                       for m in spec.mounts)
        spec = spec.replace(mounts=mounts)
    linux = spec.linux
    if linux is not None and isinstance(linux.resources, dict) and linux.resources.get("devices"):
        rules = list(linux.resources["devices"]) + [
            {"allow": True, "type": t, "major": ma, "minor": mi, "access": "rwm"} if mi is not None else
            {"allow": True, "type": t, "major": ma, "access": "rwm"} for t, ma, mi in DEFAULT_ALLOWED]
        spec = spec.replace(linux=linux.replace(resources={**linux.resources, "devices": rules}))
    return spec


def grantable(spec: model.Spec) -> tuple[model.Spec, list[str]]:
    """config.md "capabilities": a name the kernel does not know, or one we do not hold
    (our bounding set: this machine has no CAP_SYS_RESOURCE), is a warning, not a
    failure; such capabilities are dropped from every set."""
    caps = spec.process.capabilities if spec.process is not None else None
    if caps is None:
        return spec, []
    from ..kernel import caps as K

    held = K.bounding()
    notes: list[str] = []
    sets = {}
    for field in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        keep = []
        for name in getattr(caps, field):
            canon = K.canonical(name)
            if canon is None:
                notes.append(f"process.capabilities.{field}: `{name}` is not a capability this kernel knows: ignored")
            elif not held & (1 << K.number(canon)):
                notes.append(f"process.capabilities.{field}: `{canon}` cannot be granted (nsbox-runc does not "
                             "hold it): ignored")
            else:
                keep.append(canon)
        sets[field] = tuple(keep)
    if not notes:
        return spec, []
    return spec.replace(process=spec.process.replace(capabilities=caps.replace(**sets))), notes


def checks(spec: model.Spec) -> list[SpecError]:
    """What config.json asks that nsbox-runc refuses (with the reason)."""
    out: list[SpecError] = []
    if spec.hooks is not None:
        for stage in ("prestart", "create_runtime", "create_container", "start_container", "poststart",
                      "poststop"):
            from .hooks import json_name

            for i, h in enumerate(getattr(spec.hooks, stage)):
                where = f"hooks.{json_name(stage)}[{i}]"
                if not h.path.startswith("/"):
                    out.append(SpecError(f"{where}.path", f"`{h.path}` must be an absolute path"))
                if h.timeout is not None and h.timeout <= 0:
                    out.append(SpecError(f"{where}.timeout", "must be greater than zero"))
    proc = spec.process
    if proc is not None and proc.oom_score_adj is not None and not -1000 <= proc.oom_score_adj <= 1000:
        out.append(SpecError("process.oomScoreAdj", f"{proc.oom_score_adj} is not in -1000..1000"))
    if spec.process is None:
        out.append(SpecError("process", "is required by create (the container's process)"))
    elif not spec.process.args:
        out.append(SpecError("process.args", "must name the program to run"))
    if spec.root is None:
        out.append(SpecError("root", "is required on Linux"))
    linux = spec.linux
    if linux is not None:
        if linux.intel_rdt is not None:
            out.append(SpecError("linux.intelRdt", "refused: this machine has no resctrl file system "
                                 "(Intel RDT) to honour it"))
        if linux.cgroups_path and ":" in linux.cgroups_path and not linux.cgroups_path.startswith("/"):
            out.append(SpecError("linux.cgroupsPath", f"`{linux.cgroups_path}` is a systemd slice:unit "
                                 "path; there is no systemd here (use a cgroupfs path such as /a/b)"))
        if linux.seccomp and linux.seccomp.get("listenerPath"):
            out.append(SpecError("linux.seccomp.listenerPath", "refused: seccomp user notification is "
                                 "not supported by nsbox-runc yet"))
    if linux is not None and linux.sysctl:
        # names of host-wide parameters fail here with their JSON path; whether the container
        # shares the namespace is the engine's check, for every front end (security.prepare)
        from ..errors import ConfigError
        from ..runtime.sysctl import namespace_of

        for key in linux.sysctl:
            try:
                namespace_of(key)
            except ConfigError as e:
                out.append(SpecError(f"linux.sysctl.{key}", str(e).split(": ", 1)[-1]))
    for i, m in enumerate(spec.mounts):
        if bool(m.uid_mappings) != bool(m.gid_mappings):
            out.append(SpecError(f"mounts[{i}].gidMappings", "uidMappings and gidMappings go together"))
        for field, maps in (("uidMappings", m.uid_mappings), ("gidMappings", m.gid_mappings)):
            for j, mp in enumerate(maps):
                if mp.size <= 0:
                    out.append(SpecError(f"mounts[{i}].{field}[{j}].size", "must be > 0"))
    return out + unsupported(spec)


def unsupported(spec: model.Spec) -> list[SpecError]:
    """Invalid process attributes (runtime/procattrs.py applies the valid ones);
    what the engine does not do yet is refused, never silently dropped."""
    from ..runtime.procattrs import check

    linux = spec.linux or model.Linux()
    out = [SpecError(path, why) for path, why in check(spec.process, linux)]
    if linux.net_devices:
        net = linux.namespace("network")
        if net is None or net.path:
            out.append(SpecError("linux.netDevices", "needs a new network namespace"))
        if os.geteuid() != 0:
            out.append(SpecError("linux.netDevices", "needs root (CAP_NET_ADMIN on the host)"))
        for name, value in linux.net_devices.items():
            if not isinstance(value, dict) or not isinstance(value.get("name", ""), str):
                out.append(SpecError(f"linux.netDevices.{name}", "must be an object with an optional name"))
    return out


def ignored(spec: model.Spec) -> list[str]:
    """Warnings for what config.md lets a runtime without the feature ignore."""
    out = []
    proc = spec.process
    if proc is not None and proc.apparmor_profile and not os.path.isdir("/sys/kernel/security/apparmor"):
        out.append(f"process.apparmorProfile `{proc.apparmor_profile}`: ignored: AppArmor is not enabled "
                   "on this kernel")
    if proc is not None and proc.selinux_label and not os.path.isdir("/sys/fs/selinux"):
        out.append("process.selinuxLabel: ignored: SELinux is not enabled on this kernel")
    if spec.linux is not None and spec.linux.mount_label and not os.path.isdir("/sys/fs/selinux"):
        out.append("linux.mountLabel: ignored: SELinux is not enabled on this kernel")
    return out
