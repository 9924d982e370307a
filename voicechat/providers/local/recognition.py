"""Speech-to-text on this machine: Whisper tiny.en through faster-whisper (English only)."""

from __future__ import annotations

import numpy as np

from voicechat.audio.pcm import resample
from voicechat.providers.base import STT, TranscriptionRequest
from voicechat.providers.local.models import LocalModels
from voicechat.voices import WHISPER_RATE

LOCAL_STT_MODEL = "whisper-tiny.en"


class LocalWhisper(STT):
    """Recognises a whole recording; greedy decoding (beam 1), no text carried between windows."""

    def __init__(self, engines: LocalModels) -> None:
        super().__init__(provider="local")
        self._engines = engines

    def _transcribe(self, request: TranscriptionRequest) -> str:
        model = self._engines.recogniser()
        pcm = request.pcm
        if request.sample_rate != WHISPER_RATE:
            pcm = resample(pcm, from_rate=request.sample_rate, to_rate=WHISPER_RATE)
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        with self._engines.recognising:
            segments, _ = model.transcribe(
                audio, language="en", beam_size=1, condition_on_previous_text=False, vad_filter=False
            )
            return " ".join(segment.text.strip() for segment in segments)
