"""Blocking iterators (the providers' synchronous SDK streams) consumed on the session's event loop.

The iterator runs on the loop's executor; its items arrive on the loop in batches: all that came while the
loop was busy elsewhere arrive together (one wake-up of the loop, not one per token or audio chunk), and
one at a time when it is idle, so a busy machine batches and an idle one adds no delay. Closing the async
iterator (``contextlib.aclosing``), or cancelling the task consuming it, stops the iteration after the
current item and closes the blocking iterator on its own thread (a chat stream then stores and bills what
it generated); the close waits for that, so whatever the iterator does when closed has happened by then.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class _Handover(Generic[T]):
    """Items from the iterating thread to the loop: a wake-up is posted only when none is pending."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._items: list[T] = []
        self._end: tuple[BaseException | None] | None = None  # set once: (the error, or None)
        self._posted = False
        self.batches: asyncio.Queue[tuple[list[T], tuple[BaseException | None] | None]] = asyncio.Queue()

    def put(self, item: T) -> None:
        self._hand([item], None)

    def end(self, error: BaseException | None) -> None:
        self._hand([], (error,))

    def _hand(self, items: list[T], end: tuple[BaseException | None] | None) -> None:
        with self._lock:
            self._items.extend(items)
            self._end = end or self._end
            wake, self._posted = not self._posted, True
        if wake:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting any more
                self._loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            items, self._items, self._posted = self._items, [], False
            end = self._end
        self.batches.put_nowait((items, end))


async def iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncGenerator[list[T], None]:
    """Yield the items of ``make()`` (called and iterated on the executor) in batches, never empty; its
    exceptions are re-raised after the items before them."""
    loop = asyncio.get_running_loop()
    handover: _Handover[T] = _Handover(loop)
    stop = threading.Event()

    def pump() -> None:
        try:
            iterator = make()
            try:
                for item in iterator:
                    handover.put(item)
                    if stop.is_set():
                        break
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the consumer, who raises it
            handover.end(exc)
        else:
            handover.end(None)

    pumping = loop.run_in_executor(None, pump)
    try:
        while True:
            items, end = await handover.batches.get()
            if items:
                yield items
            if end is not None:
                if end[0] is not None:
                    raise end[0]
                return
    finally:
        stop.set()
        await asyncio.shield(pumping)
