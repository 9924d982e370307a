"""The call's WebRTC frame, served with one fix to streamlit-webrtc 0.79's frontend: a call opens one
connection, not three.

The frontend's ``start`` checks that it is stopped, then awaits a module import before it marks itself
started. Its hook is rebuilt on every render, and a render effect calls ``start`` while the state still reads
stopped, so each render in that window (the frame's first arguments, the rerun its mount triggers) opened
another RTCPeerConnection and sent another offer. The server answers the first offer it sees; the answer was
applied to whichever connection started last, and when they differed ICE failed after about 15 s (aioice
answered the stranger's checks "401 Unauthorized") before the frame retried: measured here, 2 of 4 calls
took 19-36 s to connect, and three in a row took over 50 s in CI. The fix lets one start run at a time.

The package's built frontend is copied once per process into a private temporary directory, the one
statement is rewritten there, and the component's name is registered again with that directory, so its
frame's address does not change. If the installed version's code differs, the original is served unchanged
and a warning is logged (``tests/unit/test_webrtc_frontend.py`` fails first).
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from functools import cache
from pathlib import Path

import streamlit_webrtc
from streamlit.components.v1.custom_component import CustomComponent
from streamlit.runtime import Runtime
from streamlit_webrtc import component

log = logging.getLogger("voicechat.ui.webrtc_frontend")

# ``h`` is the hook's start, ``c`` its state, ``o`` the ref holding the connection, ``l`` its dispatch.
START_GUARDED_BY_STATE = "h=(0,J.useCallback)(()=>c.webRtcState===`STOPPED`?(async()=>{await mw("
START_GUARDED_BY_REF = (
    "h=(0,J.useCallback)(()=>o.starting?Promise.resolve():c.webRtcState===`STOPPED`?"
    "(o.starting=!0,(async()=>{await mw("
)
START_END = "})().catch(e=>l({type:`ERROR`,error:e})):Promise.reject(Error(`WebRTC is already started`))"
START_END_RELEASES = (
    "})().catch(e=>l({type:`ERROR`,error:e})).finally(()=>{o.starting=!1})):"
    "Promise.reject(Error(`WebRTC is already started`))"
)


def package_frontend() -> Path:
    """The built frontend inside the installed streamlit-webrtc package."""
    return Path(streamlit_webrtc.__file__).parent / "frontend" / "dist"


def patch_start(source: str) -> str | None:
    """The frontend bundle with its start made single-flight, or None if the bundle is not the one this
    patch was written for (each piece must occur exactly once)."""
    if source.count(START_GUARDED_BY_STATE) != 1 or source.count(START_END) != 1:
        return None
    head, tail = source.split(START_GUARDED_BY_STATE)
    body, rest = tail.split(START_END)
    return head + START_GUARDED_BY_REF + body + START_END_RELEASES + rest


def build_patched(original: Path, into: Path) -> bool:
    """Copy ``original`` (a built frontend) into ``into`` with its start patched; False (and nothing
    patched) if no bundle matched."""
    shutil.copytree(original, into, dirs_exist_ok=True)
    for bundle in sorted((into / "assets").glob("index-*.js")):
        patched = patch_start(bundle.read_text(encoding="utf-8"))
        if patched is not None:
            bundle.write_text(patched, encoding="utf-8")
            return True
    return False


@cache
def patched_frontend() -> Path | None:
    """This process's patched copy of the frontend (built on first use, removed at exit), or None."""
    directory = Path(tempfile.mkdtemp(prefix="voicechat-webrtc-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    if build_patched(package_frontend(), directory):
        return directory
    log.warning("streamlit-webrtc's frontend differs from 0.79's: calls may open a second connection")
    return None


def serve_patched_frontend() -> None:
    """Serve the call's frame from the patched copy (idempotent; call it inside a script run, before the
    first ``webrtc_streamer``)."""
    if not Runtime.exists():
        return
    directory = patched_frontend()
    if directory is None:
        return
    name: str = component._component_func.name
    registry = Runtime.instance().component_registry
    if registry.get_component_path(name) != str(directory):
        registry.register_component(
            CustomComponent(name=name, path=str(directory), module_name=component.__name__)
        )
