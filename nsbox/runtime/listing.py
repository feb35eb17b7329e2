"""Containers as plain data: what ``nsbox ps --format json`` prints and what
``nsbox.containers()`` returns.  The status is the live one
(state.Container.live_status): a container whose init died while nothing
watched is "stopped", never "running"."""

from __future__ import annotations

from ..errors import NsboxError
from . import state as S


def entry(c: S.Container) -> dict:
    """One container as plain data (the JSON output)."""
    st = c.state
    status = c.live_status()
    running = status in ("running", "paused", "created")
    out = {"id": c.id, "name": st.get("name") or "", "pid": st.get("pid", 0) if running else 0,
           "status": status, "command": list(st.get("command") or []), "created": st.get("created"),
           "started": st.get("started"), "finished": st.get("finished"),
           "exitCode": st.get("exitCode") if status == "stopped" else None,
           "exitReason": st.get("exitReason"), "detached": bool(st.get("detached")),
           "autoRemove": bool(st.get("autoRemove")), "rootless": bool(st.get("rootless")),
           "supervisor": st.get("owner", 0) if status != "stopped" else 0, "bundle": c.path,
           "image": st.get("imageName") or "", "imageId": st.get("image") or ""}
    if status == "stopped" and out["exitCode"] is None:
        out["exitCode"] = 137  # died unwatched; GC records 137 when it collects it
    return out


def entries(s: S.Store, show_all: bool = False) -> list[dict]:
    """Every container of the store (the running ones unless ``show_all``), newest first."""
    out = []
    for cid in s.ids():
        if cid.startswith("."):
            continue
        c = S.Container(s, cid, f"{s.containers_dir}/{cid}")
        try:
            c.read()
            e = entry(c)
        except (NsboxError, OSError):
            continue  # removed while we listed, or unreadable (rm -f removes it)
        if show_all or e["status"] != "stopped":
            out.append(e)
    out.sort(key=lambda e: e["created"] or "", reverse=True)
    return out


