"""The turn-ending test set the latency benchmark builds for itself: complete questions, and sentences with a
deliberate 300-600 ms pause mid-clause ("I would like to know ... about penguins").

Every clip is spoken by the local neural voice (hibari). A mid-clause pause is made by speaking the whole
sentence (so the words before the pause keep the rising, unfinished melody of a sentence going on) and opening
a silence at the word boundary, found with Whisper's word timestamps (the offline recogniser). Each clip knows
where its last word ends, so the benchmark measures from there, not from our own voice detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicechat.audio.pcm import resample
from voicechat.providers.base import SpeechRequest
from voicechat.providers.local.models import shared_models
from voicechat.providers.local.speech import LocalNeuralSpeech
from voicechat.voices import TALK_RATE

QUESTIONS = (
    "What is the capital of France?",
    "How far away is the moon?",
    "Can you tell me how to cook rice?",
    "What time is it in Tokyo?",
    "Who wrote Hamlet?",
    "Why is the sky blue?",
    "How do I reset my password?",
    "What's the weather like tomorrow?",
    "Can you recommend a good book?",
    "How many legs does a spider have?",
    "Where is the nearest train station?",
    "What should I cook for dinner tonight?",
    "Is it going to rain today?",
    "How do you make pancakes?",
    "What is the tallest mountain in the world?",
    "When does the museum open?",
)
# (words before the pause, pause in ms, words after it)
MID_CLAUSE = (
    ("I would like to know", 500, "about penguins."),
    ("Could you explain", 400, "how tides work?"),
    ("The thing is", 500, "I lost my keys."),
    ("Tell me about the weather in", 400, "Paris tomorrow."),
    ("My favourite animal is the", 600, "penguin."),
    ("So what I want is", 500, "a short summary."),
    ("Can you remind me", 300, "to call my mother?"),
    ("I was wondering if", 450, "you could help me."),
    ("Please book a table for", 350, "two people."),
    ("What I really need is", 550, "a good night's sleep."),
    ("Could you send the report to", 450, "my manager?"),
    ("I think we should", 400, "leave early today."),
    ("Can you help me find", 400, "a cheap hotel?"),
    ("I need to cancel", 500, "my appointment."),
    ("What do you think about", 450, "electric cars?"),
    ("Remind me to buy", 350, "milk tomorrow."),
    ("I am looking for", 550, "a good restaurant."),
    ("How long does it take to", 400, "drive to Boston?"),
    ("We talked yesterday about", 500, "the new budget."),
    ("Could you tell me", 600, "a funny story?"),
)
LOUD = 300  # a sample above this is speech


@dataclass(frozen=True)
class Clip:
    """16 kHz mono PCM of one utterance; ``parts`` are its words on either side of any pause (what the
    transcription fake returns for each stretch); ``last_word_end`` in seconds from the clip's start."""

    pcm: bytes
    parts: tuple[str, ...]
    last_word_end: float
    pause_at: float | None = None  # where the mid-clause pause starts (seconds), if it has one


def _speak(voice: LocalNeuralSpeech, text: str) -> np.ndarray:
    with voice.synthesize(SpeechRequest(text=text, voice="default", model="hibari")) as stream:
        pcm = b"".join(stream)
    return np.frombuffer(resample(pcm, from_rate=voice.sample_rate, to_rate=TALK_RATE), "<i2")


def _trimmed(samples: np.ndarray) -> np.ndarray:
    """Without the silence the voice adds after the last word."""
    loud = np.nonzero(np.abs(samples) > LOUD)[0]
    return samples[: loud[-1] + 1]


def questions() -> list[Clip]:
    """Each complete question, ending at its last word."""
    voice = LocalNeuralSpeech(shared_models())
    clips = []
    for text in QUESTIONS:
        samples = _trimmed(_speak(voice, text))
        clips.append(Clip(samples.tobytes(), (text,), len(samples) / TALK_RATE))
    return clips


def mid_clause() -> list[Clip]:
    """Each sentence with its pause opened at the word boundary after the first part."""
    voice = LocalNeuralSpeech(shared_models())
    whisper = shared_models().recogniser()
    clips = []
    for before, pause_ms, after in MID_CLAUSE:
        samples = _trimmed(_speak(voice, f"{before} {after}"))
        segments, _ = whisper.transcribe(
            samples.astype(np.float32) / 32768, language="en", word_timestamps=True
        )
        words = [word for segment in segments for word in segment.words]
        count = len(before.split())
        if len(words) <= count:
            raise RuntimeError(f"Whisper heard too few words to place the pause in {before!r}")
        cut = round((words[count - 1].end + words[count].start) / 2 * TALK_RATE)
        pause = np.zeros(pause_ms * TALK_RATE // 1000, dtype="<i2")
        joined = np.concatenate([samples[:cut], pause, samples[cut:]])
        clips.append(
            Clip(joined.tobytes(), (before, after), len(joined) / TALK_RATE, pause_at=cut / TALK_RATE)
        )
    return clips
