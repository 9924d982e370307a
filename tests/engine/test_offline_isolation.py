"""Nothing is fetched: the offline engines load and run inside a network namespace with no network at all.

``unshare -n`` (as root) or ``unshare -rn`` (an unprivileged user namespace) gives the child process no
interfaces but a downed loopback; a model that tried to reach a hub would fail there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.servers import in_ci

ROOT = Path(__file__).parents[2]
SENTENCE = "Turn off the lights in the kitchen."
SCRIPT = """
import json, socket
from voicechat.audio.pcm import resample
from voicechat.providers.base import SpeechRequest, TranscriptionRequest
from voicechat.providers.local.models import shared_models
from voicechat.providers.local.recognition import LocalWhisper
from voicechat.providers.local.speech import LocalNeuralSpeech

try:
    socket.create_connection(("pypi.org", 443), timeout=3)
    reachable = True
except OSError:
    reachable = False
engines = shared_models()
with LocalNeuralSpeech(engines).synthesize(SpeechRequest(text=TEXT, voice="heart", model="local")) as stream:
    pcm = b"".join(stream)
heard = LocalWhisper(engines).transcribe(
    TranscriptionRequest(pcm=resample(pcm, from_rate=24000, to_rate=16000), sample_rate=16000, model="tiny")
)
print(json.dumps({"reachable": reachable, "heard": heard.text, "load_seconds": engines.load_seconds}))
"""


def isolation_command() -> list[str]:
    """The ``unshare`` invocation this machine allows (fails in CI, skips elsewhere, when none does)."""
    unshare = shutil.which("unshare")
    if unshare is not None:
        for flags in (["-n"], ["-rn"]) if os.geteuid() == 0 else (["-rn"],):
            if subprocess.run([unshare, *flags, "true"], check=False, capture_output=True).returncode == 0:
                return [unshare, *flags]
    if in_ci():
        pytest.fail("unshare cannot create a network namespace here (util-linux, user namespaces)")
    pytest.skip("unshare cannot create a network namespace here")
    return []


def run_isolated(*command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``command`` in a network namespace, without any Hugging Face settings that could point at a hub."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [*isolation_command(), *command],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=ROOT,
    )


def test_the_offline_voice_and_recogniser_work_with_no_network() -> None:
    done = run_isolated(sys.executable, "-c", f"TEXT = {SENTENCE!r}\n{SCRIPT}", timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["reachable"] is False  # the namespace really has no network
    assert result["heard"].lower().strip(" .") == SENTENCE.lower().strip(" .")
    assert set(result["load_seconds"]) == {"recogniser", "voice"}


OFFLINE_SUITE = ("tests/engine/test_local_engines.py", "tests/engine/test_local_chat.py")


def test_the_offline_suite_passes_with_only_a_loopback_interface() -> None:
    # The same namespace, with loopback up for the test database and servers: every offline engine test
    # (speech round trips, the local model, a whole Talk turn) passes with nothing reachable beyond it.
    ip = shutil.which("ip")
    if ip is None:
        if in_ci():
            pytest.fail("the ip command (iproute2) is needed to bring loopback up in the namespace")
        pytest.skip("no ip command")
    suite = " ".join(OFFLINE_SUITE)
    done = run_isolated(
        "sh",
        "-c",
        f"{ip} link set lo up && exec {sys.executable} -m pytest -q -p no:cacheprovider {suite}",
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout
