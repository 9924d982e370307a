"""Semantic end of turn: has the user finished, judging by how they sound, not only by the silence?

Smart Turn v3.2 (BSD 2-Clause, Daily) is an 8.7 MB ONNX model that hears the last 8 s of an utterance
(Whisper log-mel features) and scores whether the speaker has finished (a complete question) or only
paused ("I would like to know ... about penguins"). It ships inside the ``pipecat-ai`` wheel; ``make setup``
unpacks that one file into the environment (not the package around it), and it is checked against its
pinned SHA-256 before loading, like every other model file. It runs on the CPU in about 45-65 ms per call,
on an executor, never on the audio path, one inference at a time per process. Pauses of several calls are
not batched: on this 2-core machine a batch of 2 takes 88-103 ms and one of 4 211-226 ms (one thread), no
less than running them one by one, and everyone waits for the slowest. A pause the user has already spoken
past by the time its turn comes is skipped. Without the model the turn ends on silence alone (the page says
so).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from voicechat.audio.onnx_models import pinned_session
from voicechat.audio.whisper_features import log_mel_features
from voicechat.voices import TALK_RATE

log = logging.getLogger(__name__)
# Shipped in the repository (BSD-2, Daily; from the pipecat-ai 1.14.0 wheel): every install path has it.
SMART_TURN_FILE = Path(__file__).parent / "models" / "smart-turn-v3.2-cpu.onnx"
SMART_TURN_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
WINDOW_SECONDS = 8  # the model hears the last 8 s


class TurnCompletion(Protocol):
    """Scores an utterance (16 kHz mono 16-bit PCM, its start to now) as finished, 0..1. Thread-safe.
    With ``wanted``, asked once the model is free: False skips the inference (the score is then None)."""

    name: str

    def __call__(self, pcm: bytes, wanted: Callable[[], bool] | None = None) -> float | None: ...


def smart_turn_path() -> Path:
    """The model file, shipped beside this module (see ``models/README.md``)."""
    return SMART_TURN_FILE


@functools.cache
def _session(path: Path) -> object:
    """One onnxruntime session per process, after checking the file's hash."""
    return pinned_session(path.read_bytes(), sha256=SMART_TURN_SHA256, what="Smart Turn")


_running = threading.Lock()  # one inference at a time: the model never takes more than one core


class SmartTurn:
    """Smart Turn v3.2 on onnxruntime. One instance can serve every session of the process."""

    name = "smart-turn-v3.2"

    def __init__(self, path: Path | None = None) -> None:
        self._session = _session(path or smart_turn_path())

    def __call__(self, pcm: bytes, wanted: Callable[[], bool] | None = None) -> float | None:
        """See ``TurnCompletion``: the last 8 s, zero-padded in front when shorter."""
        with _running:
            if wanted is not None and not wanted():
                return None
            samples = np.frombuffer(pcm, dtype="<i2")[-WINDOW_SECONDS * TALK_RATE :].astype(np.float32)
            samples /= 32768.0
            if len(samples) < WINDOW_SECONDS * TALK_RATE:
                samples = np.pad(samples, (WINDOW_SECONDS * TALK_RATE - len(samples), 0))
            out = self._session.run(  # type: ignore[attr-defined]
                None, {"input_features": log_mel_features(samples)[np.newaxis]}
            )
            return float(np.asarray(out[0]).reshape(-1)[0])


@functools.cache
def load_turn_model() -> TurnCompletion | None:
    """The turn model if its file is here and intact; None (logged once) means silence-only turn-taking."""
    try:
        model = SmartTurn()
        model(b"\0\0" * TALK_RATE)  # the first inference is slow (about a second): not in a user's pause
        return model
    except FileNotFoundError:
        log.warning("Smart Turn model not installed; turns end on silence alone (make setup installs it)")
    except Exception as exc:  # a bad file or a broken onnxruntime: silence still works
        log.warning("Smart Turn model unavailable (%s); turns end on silence alone", type(exc).__name__)
    return None
