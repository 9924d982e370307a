"""Text-to-speech on this machine: hibari (neural, 24 kHz), or espeak-ng (formant) if hibari cannot load.

Both speak sentence by sentence, so the first sentence plays while the rest is still being made.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable, Generator, Iterator

import numpy as np

from voicechat.providers.base import TTS, SpeechRequest, TokenUsage
from voicechat.providers.local.model_files import LocalEngineUnavailable
from voicechat.providers.local.models import LocalModels
from voicechat.sentences import split_sentences
from voicechat.voices import ESPEAK_RATE, HIBARI_RATE

log = logging.getLogger(__name__)
ESPEAK_WORDS_PER_MINUTE = 175
LOCAL_VOICE = "heart"
LOCAL_TTS_MODEL = "hibari-0.2.1"
ESPEAK_MODEL = "espeak-ng"


class LocalNeuralSpeech(TTS):
    """hibari's "heart" voice (American English); the voice preference does not apply."""

    def __init__(self, engines: LocalModels) -> None:
        super().__init__(provider="local", sample_rate=HIBARI_RATE)
        self._engines = engines

    def _open_stream(self, request: SpeechRequest) -> tuple[Iterator[bytes | TokenUsage], Callable[[], None]]:
        voice = self._engines.synthesiser()  # loads (or fails) now, before the first chunk is awaited

        def chunks() -> Generator[bytes | TokenUsage]:
            for sentence in voice.stream(request.text, speed=request.speed):
                yield _to_pcm16(sentence)

        stream = chunks()
        return stream, stream.close


class EspeakSpeech(TTS):
    """Debian's espeak-ng, one process per sentence (text on stdin, never on a command line)."""

    def __init__(self) -> None:
        super().__init__(provider="local", sample_rate=ESPEAK_RATE)

    def _open_stream(self, request: SpeechRequest) -> tuple[Iterator[bytes | TokenUsage], Callable[[], None]]:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise LocalEngineUnavailable("No offline voice is available (espeak-ng is not installed).")
        speed = str(round(ESPEAK_WORDS_PER_MINUTE * request.speed))

        def chunks() -> Generator[bytes | TokenUsage]:
            for sentence in split_sentences(request.text) or [request.text]:
                done = subprocess.run(  # noqa: S603 - fixed arguments; the text goes in on stdin
                    [binary, "--stdout", "--stdin", "-s", speed],
                    input=sentence.encode(),
                    capture_output=True,
                    timeout=30,
                    check=True,
                )
                yield done.stdout[44:]  # after the WAV header

        stream = chunks()
        return stream, stream.close


def local_voice(engines: LocalModels) -> TTS:
    """The neural voice, or espeak-ng when it cannot load (said in the log, once per failure)."""
    try:
        engines.synthesiser()
    except LocalEngineUnavailable as exc:
        log.warning("local neural voice unavailable, using espeak-ng: %s", type(exc).__name__)
        return EspeakSpeech()
    return LocalNeuralSpeech(engines)


def _to_pcm16(samples: np.ndarray) -> bytes:
    pcm: bytes = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return pcm
