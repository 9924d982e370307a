"""``make run``: the app, with its slow parts started with the server instead of on the first page view.

Streamlit runs the app's script only when a browser opens it, so the embedded database and the heavy imports
(the OpenAI SDK, WebRTC, the audio stack: seconds of CPU on two cores) would all land on the first view. This
launcher does them first, then hands over to ``streamlit run`` in the same process, so the server answers its
health check once the first page can be served at once. (Warming them on a thread beside the starting server
was no faster: one process, one interpreter lock.) Arguments are passed to ``streamlit run``.
Usage: python scripts/serve.py [streamlit options...]
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("voicechat.serve")
# What the first page view imports, each a while the first time (pages themselves are run, not imported).
# Never a module that declares a Streamlit component (``streamlit_webrtc``, so not ``ui.talk_panel``): one
# declared outside a script run is never registered with the server, which then answers its frame with a
# 404, and the call never connected under ``make run``. The call's heavy imports (aiortc, PyAV, the engines)
# are warmed instead; streamlit_webrtc itself then imports in about 0.1 s on the first page view.
WARM_MODULES = (
    "ui.chat_sidebar",
    "ui.message_actions",
    "ui.turn_runner",
    "ui.call_screen",
    "aiortc",
    "voicechat.talk.session",
    "voicechat.talk.setup",
    "voicechat.talk.registry",
    "ui.usage_charts",
    "ui.local_servers",
    "voicechat.tokens",
)
COMPONENT_MODULES = ("streamlit_webrtc",)  # must first be imported by a page (see above)


def warm_up() -> None:
    """Start the database and import what the pages need; failures are left for the page to explain."""
    started = time.monotonic()
    try:
        from ui.context import load_settings  # noqa: PLC0415 - after sys.path has the project
        from voicechat.storage.store import Store  # noqa: PLC0415

        Store.open(load_settings())  # the embedded server keeps running; the page attaches to it at once
        for module in WARM_MODULES:
            importlib.import_module(module)
        early = [name for name in COMPONENT_MODULES if name in sys.modules]
        if early:  # a warmed module imported one: Talk mode would not connect
            raise RuntimeError(f"warm-up imported {early}: its component would not be registered")
        importlib.import_module("voicechat.tokens").warm_up()
        # The modules, models and caches loaded so far live as long as the process: moved out of the
        # collector's sight, a full collection no longer walks them (300-430 ms holding the GIL, on a slow
        # 2-core machine, against the calls' audio; after this, a few ms). The first call does it again.
        importlib.import_module("voicechat.talk.runtime.audio_loop").settle_collector()
    except Exception as exc:  # the page reports configuration and database problems in words
        log.warning("warm-up stopped early (%s)", type(exc).__name__)
    else:
        print(f"voicechat: database and models ready in {time.monotonic() - started:.1f} s", flush=True)


def main() -> None:
    """Warm up in the background, then run Streamlit's own command line in this process."""
    sys.path.insert(0, str(ROOT))
    warm_up()
    from streamlit.web import cli  # noqa: PLC0415 - after the warm-up, which prints how long it took

    sys.argv = ["streamlit", "run", str(ROOT / "streamlit_app.py"), *sys.argv[1:]]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
