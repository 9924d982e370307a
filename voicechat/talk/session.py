"""A call (Talk mode): the plumbing every engine shares, and where its events go.

Threads: audio arrives from anywhere (aiortc's loop) through ``push_frame``/``push_pcm``, which only hand the
frame to the process's audio loop (``AudioLoop``), shared by every call of the process. The loop resamples
it, writes it to the user-audio tape, scores it for speech together with the other calls' audio and passes it
to the engine (``engine``), which decides the turns and reports events. Each event goes to the view (what
the page shows) and to the recorder (what is stored); the recorder's writes run on the session's storage
lane (``Lane``: in order, on threads every call shares); blocking provider calls run in the loop's
executor. The page reads ``snapshot()``, an immutable copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import av
import numpy as np
import numpy.typing as npt

from voicechat.audio.vad import SileroVAD, SpeechProbability
from voicechat.config import Settings
from voicechat.storage.store import Store
from voicechat.talk.engine import EngineHost
from voicechat.talk.events import TalkEvent
from voicechat.talk.recorder import TurnRecorder
from voicechat.talk.runtime.audio_loop import AudioLoop, shared_audio_loop
from voicechat.talk.runtime.intake import FrameIntake
from voicechat.talk.runtime.playback import AudioOutput, PlaybackMeter
from voicechat.talk.runtime.user_audio import UserAudioTape
from voicechat.talk.setup import TalkSetup
from voicechat.talk.view import TalkSnapshot, TalkView
from voicechat.turns.text import ChatService

log = logging.getLogger(__name__)


class TalkSession:
    """One call. Thread-safe public methods; ``stop()`` ends it and joins its threads."""

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        setup: TalkSetup,
        output: AudioOutput,
        output_rate: int | None = None,
        vad: SpeechProbability | None = None,
        clock: Callable[[], float] = time.monotonic,
        stall_timeout: float | None = None,
        audio_loop: AudioLoop | None = None,
    ) -> None:
        """``output_rate``: the output track's rate (the engine's own by default). ``stall_timeout``: stop
        by itself when no audio arrives for that long (a closed tab sends nothing, while an open call sends
        frames even in silence); None for callers that feed audio in bursts. ``clock``: monotonic seconds; a
        clock with a ``speed`` attribute (its seconds per real second) lets tests play replies faster.
        ``audio_loop``: the process's shared one by default."""
        spec = setup.engine
        self._clock = clock
        self._meter = PlaybackMeter(
            output,
            sample_rate=output_rate or spec.output_rate,
            clock=clock,
            clock_speed=getattr(clock, "speed", 1.0),
        )
        self._tape = UserAudioTape()
        self._view = TalkView(
            engine=spec.name,
            vad="",
            conversation_id=setup.conversation_id,
            level=lambda: self._tape.level_dbfs,
            clock=clock,
        )
        self.intake = FrameIntake()  # the audio loop converts this call's frames with it
        self._audio = audio_loop or shared_audio_loop()
        self._worker = self._audio.lane()  # this call's writes, in order
        self._loop = self._audio.thread
        self._stop_lock = threading.Lock()
        self._stopping = False
        self._recorder = TurnRecorder(
            store=store,
            chat=ChatService(store=store, settings=settings),
            user=setup.user,
            options=setup.options,
            conversation_id=setup.conversation_id,
            model=spec.model,
            reply_rate=self._meter.sample_rate,
            worker=self._worker,
            emit=self._emit,
            emit_soon=lambda event: self._loop.call(self._emit, event),
        )
        self._engine = spec.build(
            EngineHost(
                settings=settings,
                user=setup.user,
                options=setup.options,
                emit=self._emit,
                recorder=self._recorder,
                meter=self._meter,
                tape=self._tape,
                loop=self._loop,
                worker=self._worker,
                clock=clock,
                greeting=setup.greeting,
                barge_in=setup.barge_in,
                vad=vad,
                admit=setup.admit,
            )
        )
        self._view.describe(vad=self._engine.vad_name)
        log.info(
            "talk session started engine=%s end_of_turn=%s",
            self._view.snapshot().engine,
            self._engine.vad_name,
        )
        self._stall_timeout = stall_timeout
        self._lags: deque[float] = deque(maxlen=3000)  # ms from a frame's arrival to its processing done
        self._last_audio = clock()
        if stall_timeout is not None:
            self._loop.call(self._watch)
        self._loop.call(self._engine.start)

    # Called from other threads ---------------------------------------------------------------------------

    def push_frame(self, frame: av.AudioFrame) -> None:
        """A browser audio frame (any rate and layout); only queued, processed on the audio loop."""
        self._audio.deliver(self, frame, self._clock())

    def push_pcm(self, pcm: bytes) -> None:
        """16 kHz mono 16-bit PCM (tests, benchmarks); only queued, processed on the audio loop."""
        self._audio.deliver(self, pcm, self._clock())

    def flush(self, timeout: float = 10.0) -> None:
        """Return once the audio loop has processed every frame pushed so far (a drain of them is queued
        on the loop before the marker, or is running and took them): a barrier for tests and benchmarks.
        Raises TimeoutError if the loop does not get there in ``timeout`` seconds."""
        reached = threading.Event()
        self._loop.call(reached.set)
        if not reached.wait(timeout):
            raise TimeoutError("the talk session did not process its frames in time")

    def frame_lags_ms(self) -> list[float]:
        """Recent frame-processing lags (arrival -> engine done), for benchmarks and diagnostics."""
        return list(self._lags)

    def mute(self, muted: bool) -> None:
        """Mute or unmute the user's microphone: while muted the engine hears silence (any thread)."""
        self._view.mute(muted)

    def snapshot(self) -> TalkSnapshot:
        """The current state for display."""
        return self._view.snapshot()

    def stop(self) -> None:
        """End the session: stop speaking, finish storing the current turn (its facts shown, its turn
        counted), join every thread (idempotent)."""
        with self._stop_lock:
            if self._view.state == "stopped":
                return
            self._stopping = True  # audio from now on is not heard
            if self._loop.alive:
                try:
                    self._loop.submit(self._close_engine()).result(timeout=10)
                except Exception as exc:  # the worker still stores what was queued
                    log.warning("talk engine close: %s", type(exc).__name__)
            self._worker.shutdown(wait=True)  # every write done; what they report waits on the loop
            if self._loop.alive:
                with contextlib.suppress(Exception):
                    self._loop.submit(asyncio.sleep(0)).result(timeout=5)  # ...and is shown now
            self._view.stop()
        log.info(
            "talk session stopped engine=%s turns=%d", self._view.snapshot().engine, self.snapshot().turns
        )

    # On the session's loop -----------------------------------------------------------------------------

    async def _close_engine(self) -> None:
        """Close the engine, then let the recorder finish: bill every usage it measured (what closing it
        reports too), attach recordings still waiting for a transcript."""
        try:
            await self._engine.close()
        finally:
            self._recorder.finish()

    def _emit(self, event: TalkEvent) -> None:
        self._view.apply(event)
        self._recorder.record(event)

    def take(self, pcm: bytes, arrived: float) -> bytes | None:
        """A frame's 16 kHz PCM, written to the tape; what the engine hears of it (silence while the user
        has muted the call: the frames keep coming, so the call stays alive), None once the call stops."""
        if self._stopping:
            return None
        self._last_audio = arrived
        if self._view.muted:
            pcm = bytes(len(pcm))
        self._tape.write(pcm, arrived)
        return pcm

    def vad_windows(self, pcm: bytes) -> tuple[SileroVAD, npt.NDArray[np.float32]] | None:
        """The windows of ``pcm`` the engine's voice detector will score (the audio loop batches them)."""
        return self._engine.vad_windows(pcm)

    def hear(self, pcm: bytes, arrived: float) -> None:
        """The engine hears a frame's audio (taken at ``arrived``)."""
        if self._stopping:
            return
        self._engine.hear(pcm, arrived)
        self._lags.append((self._clock() - arrived) * 1000)

    def _watch(self) -> None:
        assert self._stall_timeout is not None
        if self._clock() - self._last_audio > self._stall_timeout:
            log.info("talk session: no audio for %.0f s, stopping", self._stall_timeout)
            threading.Thread(target=self.stop, name="talk-stop", daemon=True).start()
        elif not self._stopping:
            self._loop.loop.call_later(1.0, self._watch)
