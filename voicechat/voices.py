"""The voices and sample rates every layer agrees on (providers, audio, Talk engines)."""

from __future__ import annotations

TALK_RATE = 16_000  # the user's audio in a call: voice activity detection, the tape, the stored clips
RECOGNITION_RATE = 16_000  # what a recording is decoded to for speech recognition (16-bit mono)
WHISPER_RATE = 16_000  # what Whisper models hear
OPENAI_AUDIO_RATE = 24_000  # OpenAI's raw PCM: the speech endpoint's "pcm" and the Realtime API
ELEVENLABS_PCM_RATE = 24_000  # the pcm_24000 output format requested from ElevenLabs text-to-speech
HIBARI_RATE = 24_000  # the local neural voice
ESPEAK_RATE = 22_050  # espeak-ng's own output rate

OPENAI_VOICES = frozenset(
    {
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "onyx",
        "nova",
        "sage",
        "shimmer",
        "verse",
        "marin",
        "cedar",
    }
)
