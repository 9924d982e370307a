"""One hands-free turn: the user's utterance in, the reply spoken sentence by sentence while it is generated.

Runs on worker threads (the providers' SDKs are synchronous): the LLM stream feeds a sentence splitter on one
thread, a second thread synthesises each sentence as soon as it is complete and pushes its audio to the
playback meter, so sentence N+1 is synthesised while sentence N plays. An interruption (``SpeechHandle``)
stops both at once; the persistence that follows is never skipped: the reply is stored as what was actually
heard, marked interrupted, with the audio that was played, and every provider call has its usage event.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from voicechat import defaults
from voicechat.errors import ProviderError, ProviderRateLimited
from voicechat.models import TurnMetrics, UsageStatus, User
from voicechat.providers.base import SpeechRequest, TokenUsage, add_usage
from voicechat.providers.speech_factory import Speaker
from voicechat.sentences import SentenceSplitter, speakable
from voicechat.storage.store import Store
from voicechat.talk.runtime.playback import PlaybackMeter
from voicechat.turns.speech import keep_clip, record_speech_usage
from voicechat.turns.text import TextTurn
from voicechat.usage import PriceTables

log = logging.getLogger(__name__)


class SpeechHandle:
    """The reply being spoken; ``interrupt()`` (thread-safe) stops generation, synthesis and playback."""

    def __init__(self) -> None:
        self._interrupted = threading.Event()
        self.interrupted_at: float | None = None

    def interrupt(self) -> None:
        """Stop this reply (idempotent)."""
        if not self._interrupted.is_set():
            self.interrupted_at = time.monotonic()
            self._interrupted.set()

    @property
    def interrupted(self) -> bool:
        """Whether ``interrupt()`` was called."""
        return self._interrupted.is_set()


@dataclass
class SpokenSentence:
    """A sentence and where its audio sits in the reply's pushed audio (samples)."""

    text: str
    start: int
    end: int


@dataclass
class ReplyOutcome:
    """What one reply did: the text heard, timings, and whether it was cut short."""

    heard: str = ""
    generated: str = ""
    interrupted: bool = False
    error: str | None = None
    first_token_ms: float | None = None
    tts_first_byte_ms: float | None = None
    first_audio_at: float | None = None  # monotonic time the first audio was pushed
    first_sentence_ms: float | None = None  # reply requested -> its first sentence complete
    sentences: list[SpokenSentence] = field(default_factory=list)


class ReplySpeaker:
    """Streams one reply into speech. ``run()`` blocks until the reply was played, interrupted or failed."""

    def __init__(
        self,
        *,
        store: Store,
        user: User,
        prices: PriceTables,
        turn: TextTurn,
        speaker: Speaker,
        meter: PlaybackMeter,
        handle: SpeechHandle,
        on_progress: Callable[[str], None],
        on_first_audio: Callable[[], None],
    ) -> None:
        self._store = store
        self._user = user
        self._prices = prices
        self._turn = turn
        self._speaker = speaker
        self._meter = meter
        self._handle = handle
        self._on_progress = on_progress
        self._on_first_audio = on_first_audio
        self._sentences: queue.Queue[str | None] = queue.Queue()
        self._pcm: list[bytes] = []
        self._usage: TokenUsage | None = None
        self._characters = 0
        self.outcome = ReplyOutcome()

    def run(self) -> ReplyOutcome:
        """Generate, speak, wait for playback; then work out what was heard."""
        self._meter.begin()
        synthesiser = threading.Thread(target=self._synthesise, name="live-tts", daemon=True)
        synthesiser.start()
        try:
            self._generate()
        finally:
            self._sentences.put(None)
            synthesiser.join()
        while not self._handle.interrupted and self._meter.seconds_left() > 0:
            time.sleep(min(0.02, self._meter.seconds_left()))
        self.outcome.interrupted = self._handle.interrupted
        self.outcome.heard = self._heard()
        return self.outcome

    @property
    def played_audio(self) -> bytes:
        """The reply audio the user heard (for storage)."""
        return b"".join(self._pcm)[: self._meter.played_samples() * 2]

    def _generate(self) -> None:
        splitter = SentenceSplitter(max_chars=defaults.LIVE_CLAUSE_CHARS)
        started = time.perf_counter()

        def queue_all(sentences: list[str]) -> None:
            if sentences and self.outcome.first_sentence_ms is None:
                self.outcome.first_sentence_ms = round((time.perf_counter() - started) * 1000, 1)
            for sentence in sentences:
                self._sentences.put(sentence)

        stream = self._turn.stream_reply()
        try:
            for delta in stream:
                if self._handle.interrupted:
                    break
                self.outcome.generated += delta
                queue_all(splitter.push(delta))
            else:
                queue_all(splitter.flush())
        except ProviderError as exc:
            self.outcome.error = exc.user_message
            queue_all(splitter.flush())
        finally:
            stream.close()  # an early break stores the reply as interrupted; persistence fixes the text later
            reply = self._turn.reply
            self.outcome.first_token_ms = reply.metrics.first_token_ms if reply else None

    def _synthesise(self) -> None:
        status: UsageStatus = "ok"
        try:
            while (sentence := self._sentences.get()) is not None:
                if self._handle.interrupted:
                    continue  # drain without speaking
                self._speak(sentence)
        except ProviderError as exc:
            status = "rate_limited" if isinstance(exc, ProviderRateLimited) else "error"
            self.outcome.error = self.outcome.error or f"The reply could not be spoken. {exc.user_message}"
            while self._sentences.get() is not None:
                pass
        finally:
            if self._characters:
                record_speech_usage(
                    self._store,
                    user=self._user,
                    speaker=self._speaker,
                    characters=self._characters,
                    audio_seconds=self._meter.pushed_samples() / self._meter.sample_rate,
                    usage=self._usage,
                    status="interrupted" if self._handle.interrupted and status == "ok" else status,
                    latency_ms=self.outcome.tts_first_byte_ms,
                    prices=self._prices,
                    conversation_id=self._turn.conversation.id,
                )

    def _speak(self, sentence: str) -> None:
        text = speakable(sentence).strip()
        if not text:
            return
        self._characters += len(text)
        start = self._meter.pushed_samples()
        request = SpeechRequest(
            text=text, voice=self._speaker.voice, model=self._speaker.model, speed=self._speaker.speed
        )
        with self._speaker.tts.synthesize(request) as stream:
            for chunk in stream:
                if self._handle.interrupted:
                    break
                pushed_at = self._meter.push(chunk)
                self._pcm.append(chunk)
                if self.outcome.first_audio_at is None:
                    self.outcome.first_audio_at = pushed_at
                    self.outcome.tts_first_byte_ms = stream.first_byte_ms
                    self._on_first_audio()
            self._usage = add_usage(self._usage, stream.usage)
        self.outcome.sentences.append(SpokenSentence(sentence, start, self._meter.pushed_samples()))
        self._on_progress(" ".join(s.text for s in self.outcome.sentences))

    def _heard(self) -> str:
        """The sentences played in full, and the played share of the words of the one cut off."""
        played = self._meter.played_samples()
        words: list[str] = []
        for sentence in self.outcome.sentences:
            if played >= sentence.end:
                words.extend(sentence.text.split())
            elif played > sentence.start:
                share = (played - sentence.start) / max(1, sentence.end - sentence.start)
                parts = sentence.text.split()
                words.extend(parts[: int(len(parts) * share)])
        return " ".join(words)

    def store(self, metrics: TurnMetrics) -> None:
        """Persist the reply as heard (cut and marked ``interrupted`` when cut short), its audio, timings."""
        reply = self._turn.reply
        if reply is None:
            return
        audio = self.played_audio
        audio_id = None
        if audio:
            clip = keep_clip(
                self._store,
                owner_id=self._user.id,
                conversation_id=self._turn.conversation.id,
                pcm=audio,
                sample_rate=self._meter.sample_rate,
            )
            audio_id = clip.id
        cut = self.outcome.interrupted
        self._store.conversations.update_message(
            owner_id=self._user.id,
            message_id=reply.id,
            content=self.outcome.heard if cut else None,
            status="interrupted" if cut else None,
            interrupted=True if cut else None,
            audio_id=audio_id,
            metrics=metrics,
        )
        if cut:
            self._store.context.forget(self._turn.conversation.id)  # the cache holds the untruncated text
