"""A reply drafted in the user's pause, before their turn is confirmed.

When the end of the turn is likely (a short silence, with the words so far known), the chat request starts on
the transcript so far and its text is kept, unplayed. If the turn ends with the same words, the reply is
already on its way; if the user goes on (or said something else), the draft is cancelled: nothing of it is
played or stored, but its usage is still recorded, because the provider bills it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, Callable

from voicechat.errors import ProviderError
from voicechat.providers.base import LLM
from voicechat.talk.cascaded.tool_events import DraftWatch
from voicechat.talk.engine import EngineHost
from voicechat.talk.runtime.threads import iterate_in_thread
from voicechat.turns.text import TextTurn
from voicechat.turns.tool_rounds import AheadGate
from voicechat.usage import Usage

log = logging.getLogger(__name__)
_NOT_WORDS = re.compile(r"[^\w']+")


def same_words(a: str, b: str) -> bool:
    """Whether two transcripts say the same words (case, punctuation and spacing aside)."""
    return _NOT_WORDS.sub(" ", a.lower()).split() == _NOT_WORDS.sub(" ", b.lower()).split()


class Draft:
    """The chat reply to ``text``, generated ahead and buffered. ``cancel`` at any time (idempotent)."""

    def __init__(
        self, host: EngineHost, llm: LLM, text: str, bill: Callable[[Usage], None], watch: DraftWatch
    ) -> None:
        self.text = text
        self._watch = watch  # tools it calls are shown (and stored) only once it is the reply
        self._gate = AheadGate()  # its calls that change things wait until then
        self._ready: asyncio.Future[TextTurn] = asyncio.get_running_loop().create_future()
        self._host, self._llm, self._bill = host, llm, bill
        self._batches: asyncio.Queue[list[str] | ProviderError | None] = asyncio.Queue()
        self._cancelled = False
        self._task = asyncio.ensure_future(self._generate())

    def matches(self, transcript: str) -> bool:
        """Whether this draft answers ``transcript``."""
        return same_words(self.text, transcript)

    def cancel(self) -> None:
        """Stop generating (idempotent). The chat call ends (and bills what it generated) once the provider
        sends its next bytes: a blocking read cannot be interrupted, so ``finished`` waits for that."""
        if not self._cancelled:
            self._cancelled = True
            self._gate.stop()
            self._task.cancel()

    def on_finished(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the loop) once the chat call has ended."""
        self._task.add_done_callback(lambda _: callback())

    async def finished(self, timeout: float) -> None:
        """Wait (up to ``timeout`` seconds) until the chat call has ended and reported its usage."""
        await asyncio.wait([self._task], timeout=timeout)

    async def turn(self) -> TextTurn | None:
        """The chat turn once the conversation so far is loaded; None if the draft failed or was cancelled
        first (the caller answers the usual way)."""
        await asyncio.wait([self._ready])
        if self._ready.cancelled() or self._ready.exception() is not None:
            return None
        return self._ready.result()

    async def stream(self, key: str) -> AsyncGenerator[list[str], None]:
        """The draft as reply ``key``: its text as it streams (what came so far at once); closing it cancels
        the draft."""
        self._watch.adopt(key)
        self._gate.go()
        try:
            while (batch := await self._batches.get()) is not None:
                if isinstance(batch, ProviderError):
                    raise batch
                yield batch
        finally:
            self.cancel()

    async def _generate(self) -> None:
        try:
            chat = await asyncio.wrap_future(
                self._host.recorder.draft(self.text, self._llm, self._bill, self._watch.watch, self._gate)
            )
            self._ready.set_result(chat)
            text = iterate_in_thread(chat.stream_reply)
            async with contextlib.aclosing(text):
                async for batch in text:
                    self._batches.put_nowait(batch)
        except ProviderError as exc:
            self._batches.put_nowait(exc)
        except Exception as exc:  # loading the conversation failed: answered the usual way, which reports it
            log.warning("draft reply failed (%s)", type(exc).__name__)
        finally:
            if not self._ready.done():
                self._ready.cancel()
            self._batches.put_nowait(None)
