"""First impression: from the server answering its health check to a usable chat input, fresh data directory.

Real Chromium (Debian's), no API key needed (a placeholder one, nothing is sent); the embedded database starts
on a fresh data directory each trial. Two ways to start: a bare ``streamlit run`` (the database and the heavy
imports land on the first view) and ``make run``'s launcher (scripts/serve.py: they are done before the server
answers). Also prints a trivial Streamlit app's figure on this machine: the floor for any page.
Prints each figure; the last line is one JSON object.
Usage: python benchmarks/first_page.py [--trials N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.servers import StreamlitApp, free_port, http_get

USABLE = (
    "() => { const box = document.querySelector('[data-testid=stChatInputTextArea]');"
    " return box && !box.disabled; }"
)
TRIVIAL = "import streamlit as st\nst.chat_input('Message')\n"


def usable_after_health(page: object, launcher: bool) -> tuple[float, float]:
    """Seconds from start to health, and from health to a usable chat input."""
    env = {
        "VOICECHAT_DATA_DIR": tempfile.mkdtemp(),
        "VOICECHAT_LOCAL_ENGINES": "off",
        "OPENAI_API_KEY": "sk-bench",
    }
    app = StreamlitApp(env, launcher=launcher)
    started = time.monotonic()
    app.start()
    healthy = time.monotonic()
    try:
        page.goto(app.url)  # type: ignore[attr-defined]
        page.wait_for_function(USABLE, timeout=60_000)  # type: ignore[attr-defined]
        return healthy - started, time.monotonic() - healthy
    finally:
        app.stop()


def trivial_after_health(page: object) -> float:
    script = Path(tempfile.mkdtemp()) / "app.py"
    script.write_text(TRIVIAL)
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
    command += ["--server.headless", "true", "--server.address", "127.0.0.1"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not _healthy(port):
            time.sleep(0.05)
        healthy = time.monotonic()
        page.goto(f"http://127.0.0.1:{port}")  # type: ignore[attr-defined]
        page.wait_for_function(USABLE, timeout=60_000)  # type: ignore[attr-defined]
        return time.monotonic() - healthy
    finally:
        server.terminate()
        server.wait(timeout=10)


def _healthy(port: int) -> bool:
    try:
        return http_get(f"http://127.0.0.1:{port}/_stcore/health") == "ok"
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"bare": [], "launcher": [], "launcher_start": [], "trivial": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for _ in range(args.trials):
            figures["bare"].append(usable_after_health(browser.new_page(), launcher=False)[1])
            start, usable = usable_after_health(browser.new_page(), launcher=True)
            figures["launcher"].append(usable)
            figures["launcher_start"].append(start)
            figures["trivial"].append(trivial_after_health(browser.new_page()))
        browser.close()
    median = {name: round(statistics.median(values), 2) for name, values in figures.items()}
    print(f"load average {os.getloadavg()[0]:.2f}; {args.trials} trials, fresh data directory each")
    print(
        f"health -> usable chat input: bare streamlit run {median['bare']} s; make run {median['launcher']} s"
    )
    print(f"make run: start -> health {median['launcher_start']} s (the database and imports come first)")
    print(f"a trivial Streamlit app on this machine: {median['trivial']} s")
    print(json.dumps({f"{name}_s": value for name, value in median.items()}))


if __name__ == "__main__":
    main()
