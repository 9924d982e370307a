"""A call (Talk mode): the plumbing every engine shares, and where its events go.

Threads: audio arrives from anywhere (aiortc's loop) through ``push_frame``/``push_pcm``, which only hand the
frame to the process's audio loop (``AudioLoop``), shared by every call of the process. The loop resamples
it, writes it to the user-audio tape, scores it for speech together with the other calls' audio and passes it
to the engine (``engine``), which decides the turns and reports events. Each event goes to the view (what
the page shows) and to the recorder (what is stored); the recorder's writes run on the session's storage
lane (``Lane``: in order, on threads every call shares); blocking provider calls run in the loop's
executor. The page reads ``snapshot()``, an immutable copy.

Limits: the call is admitted before anything is built (``CallQuota.begin``: the budget, one voice turn, a
slot among the person's open calls), so a refused call speaks no greeting and bills nothing. While it runs,
``CallLimits`` says when to renew that slot, when to warn that the call nears its longest length and end it
there, and, for engines billed by the minute, when to check the budget again. Browser frames faster than
``MAX_AUDIO_SPEED`` times real time are dropped (``FrameGate``), and the audio loop holds a bounded number
of each call's frames; dropped frames are counted in the log, never their content.
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

from voicechat import defaults
from voicechat.audio.vad import SileroVAD, SpeechProbability
from voicechat.config import Settings
from voicechat.errors import Refused
from voicechat.storage.store import Store
from voicechat.talk.engine import EngineHost
from voicechat.talk.events import EngineError, TalkEvent, UsageMeasured
from voicechat.talk.recorder import TurnRecorder
from voicechat.talk.runtime.audio_loop import AudioLoop, shared_audio_loop
from voicechat.talk.runtime.call_limits import CallDue, CallLimits
from voicechat.talk.runtime.frame_gate import FrameGate
from voicechat.talk.runtime.intake import FrameIntake
from voicechat.talk.runtime.playback import AudioOutput, PlaybackMeter
from voicechat.talk.runtime.user_audio import UserAudioTape
from voicechat.talk.setup import TalkSetup
from voicechat.talk.view import TalkSnapshot, TalkView
from voicechat.turns.text import ChatService

log = logging.getLogger(__name__)
ENDING_SOON = "This call ends in {left}: calls last at most {minutes} minutes."
ENDED_AT_LIMIT = "The call ended: calls last at most {minutes} minutes. Start a new one to go on talking."
ENDED_ON_BUDGET = "The call ended. {reason}"


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
        ``audio_loop``: the process's shared one by default.

        Raises ``Refused`` when ``setup.quota`` does not admit the call (then nothing has started)."""
        self._quota = setup.quota
        if self._quota is not None:
            self._quota.begin()  # before anything is built: a refused call greets nobody, bills nothing
        try:
            self._start(
                store=store,
                settings=settings,
                setup=setup,
                output=output,
                output_rate=output_rate,
                vad=vad,
                clock=clock,
                stall_timeout=stall_timeout,
                audio_loop=audio_loop,
            )
        except BaseException:
            if self._quota is not None:
                self._quota.end()
            raise

    def _start(  # the constructor's arguments, once the call is admitted
        self,
        *,
        store: Store,
        settings: Settings,
        setup: TalkSetup,
        output: AudioOutput,
        output_rate: int | None,
        vad: SpeechProbability | None,
        clock: Callable[[], float],
        stall_timeout: float | None,
        audio_loop: AudioLoop | None,
    ) -> None:
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
                admissible=setup.quota.would_admit_turn if setup.quota is not None else None,
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
        self._gate = FrameGate(now=self._last_audio)
        self._overflow = 0  # frames the audio loop's inbox had no room for
        self._max_minutes = settings.max_call_minutes
        self._price_per_minute = setup.price_per_minute
        self._started_at = self._last_audio
        self._billed_usd = 0.0  # what this call's usage events priced so far
        self._checks: set[asyncio.Future[None]] = set()
        self._limits = CallLimits(
            started=self._last_audio,
            max_seconds=settings.max_call_minutes * 60,
            budget_every=defaults.CALL_BUDGET_CHECK_SECONDS if setup.price_per_minute else None,
        )
        if stall_timeout is not None:
            self._loop.call(self._watch)
        self._loop.call(self._engine.start)

    # Called from other threads ---------------------------------------------------------------------------

    def push_frame(self, frame: av.AudioFrame) -> None:
        """A browser audio frame (any rate and layout); only queued, processed on the audio loop. Dropped
        when frames come faster than real time allows (``FrameGate``) or the call's inbox is full."""
        now = self._clock()
        seconds = frame.samples / frame.sample_rate if frame.sample_rate else 0.0
        if not self._gate.admit(seconds, now):
            if self._gate.dropped == 1:
                log.warning("talk session: audio arrives faster than real time; dropping the excess")
            return
        self._queue(frame, now)

    def push_pcm(self, pcm: bytes) -> None:
        """16 kHz mono 16-bit PCM (tests, benchmarks: in bursts, so not held to real time); only queued,
        processed on the audio loop (dropped when the call's inbox is full)."""
        self._queue(pcm, self._clock())

    @property
    def dropped_frames(self) -> int:
        """Frames dropped so far: faster than real time, or no room in the audio loop's inbox."""
        return self._gate.dropped + self._overflow

    def _queue(self, item: object, now: float) -> None:
        if not self._audio.deliver(self, item, now):
            self._overflow += 1  # one writer per call (its audio thread); a lost count is no harm
            if self._overflow == 1:
                log.warning("talk session: the audio loop is behind; dropping this call's newest frames")

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
                    # A turn still awaiting its words gets them first (the engine's own bound), then a margin.
                    self._loop.submit(self._close_engine()).result(
                        timeout=defaults.CALL_CLOSE_TRANSCRIPT_SECONDS + 5
                    )
                except Exception as exc:  # the worker still stores what was queued
                    log.warning("talk engine close: %s", type(exc).__name__)
            self._worker.shutdown(wait=True)  # every write done; what they report waits on the loop
            if self._loop.alive:
                with contextlib.suppress(Exception):
                    self._loop.submit(asyncio.sleep(0)).result(timeout=5)  # ...and is shown now
            self._view.stop()
            if self._quota is not None:
                try:
                    self._quota.end()
                except Exception as exc:  # its slot lapses by itself
                    log.warning("talk session: the call's slot was not freed: %s", type(exc).__name__)
        log.info(
            "talk session stopped engine=%s turns=%d dropped_frames=%d",
            self._view.snapshot().engine,
            self.snapshot().turns,
            self.dropped_frames,
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
        if isinstance(event, UsageMeasured):
            self._billed_usd += event.usage.cost_usd
        self._view.apply(event)
        self._recorder.record(event)

    def _keep_within_limits(self, now: float) -> None:
        """Do what the call's limits say is due at clock time ``now``."""
        for due in self._limits.due(now):
            self._do(due, now)

    def _do(self, due: CallDue, now: float) -> None:
        quota = self._quota
        if self._stopping:
            return
        if due == "warn":
            warning = ending_soon(self._max_minutes)
            self._emit(EngineError(warning))
            self._engine.announce(warning)  # spoken where the engine can (not stored)
        elif due == "end":
            log.info("talk session: the call reached its longest length, stopping")
            self._end(ENDED_AT_LIMIT.format(minutes=f"{self._max_minutes:g}"))
        elif due == "renew" and quota is not None:
            self._off_loop(quota.renew)
        elif due == "budget" and quota is not None and self._price_per_minute is not None:
            unbilled = self._price_per_minute * (now - self._started_at) / 60 - self._billed_usd
            self._off_loop(lambda: quota.check_budget(pending_usd=max(0.0, unbilled)))

    def _off_loop(self, check: Callable[[], None]) -> None:
        """Run a blocking limit check in the loop's executor; a refusal ends the call with its reason."""
        future = self._loop.loop.run_in_executor(None, check)
        self._checks.add(future)
        future.add_done_callback(self._checked)

    def _checked(self, future: asyncio.Future[None]) -> None:
        self._checks.discard(future)
        exc = future.exception()
        if isinstance(exc, Refused):
            log.info("talk session: refused mid-call reason=%s, stopping", exc.reason)
            self._end(ENDED_ON_BUDGET.format(reason=exc.user_message))
        elif exc is not None:
            log.warning("talk session: a limit check failed: %s", type(exc).__name__)

    def _end(self, message: str) -> None:
        """Say why, then stop the call (off the loop: stopping waits on it)."""
        if self._stopping:
            return
        self._emit(EngineError(message))
        self._stopping = True  # audio from now on is not heard
        threading.Thread(target=self.stop, name="talk-stop", daemon=True).start()

    def take(self, pcm: bytes, arrived: float) -> bytes | None:
        """A frame's 16 kHz PCM, written to the tape; what the engine hears of it (silence while the user
        has muted the call: the frames keep coming, so the call stays alive), None once the call stops."""
        if self._stopping:
            return None
        self._last_audio = arrived
        self._keep_within_limits(arrived)
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
        self._keep_within_limits(self._clock())
        if self._clock() - self._last_audio > self._stall_timeout:
            log.info("talk session: no audio for %.0f s, stopping", self._stall_timeout)
            threading.Thread(target=self.stop, name="talk-stop", daemon=True).start()
        elif not self._stopping:
            self._loop.loop.call_later(1.0, self._watch)


def ending_soon(max_minutes: float, warn_before: float = defaults.CALL_END_WARNING_SECONDS) -> str:
    """The warning a call shows ``warn_before`` seconds before its longest length."""
    left = "a minute" if warn_before == 60 else f"{warn_before:g} seconds"
    return ENDING_SOON.format(left=left, minutes=f"{max_minutes:g}")
