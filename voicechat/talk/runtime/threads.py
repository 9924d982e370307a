"""Blocking iterators (the providers' synchronous SDK streams) consumed on the session's event loop.

The iterator runs on the loop's executor; its items arrive on the loop as an async iterator. Closing that
(``contextlib.aclosing``), or cancelling the task consuming it, stops the iteration after the current item
and closes the blocking iterator on its own thread (a chat stream then stores and bills what it generated);
the close waits for that, so whatever the iterator does when closed has happened when the close returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


async def iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncGenerator[T, None]:
    """Yield the items of ``make()`` (called and iterated on the executor); its exceptions are re-raised."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue()
    stop = threading.Event()

    def post(item: object, error: BaseException | None = None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting any more
            loop.call_soon_threadsafe(items.put_nowait, (item, error))

    def pump() -> None:
        try:
            iterator = make()
            try:
                for item in iterator:
                    post(item)
                    if stop.is_set():
                        break
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the consumer, who raises it
            post(_DONE, exc)
        else:
            post(_DONE)

    pumping = loop.run_in_executor(None, pump)
    try:
        while True:
            item, error = await items.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        await asyncio.shield(pumping)
