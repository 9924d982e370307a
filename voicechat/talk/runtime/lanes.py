"""Each call's storage work in order, on a few threads every call of the process shares.

A call's writes must happen one at a time and in the order they were queued (a reply after the message it
answers). A thread per call did that, but with 30 calls ending turns at once, 30 threads took turns at the
GIL with the audio loop, and the loop waited behind all of them. A ``Lane`` keeps a call's order on a small
shared pool instead: the pool runs one job of a lane at a time, then puts the lane back at the end of the
queue if it has more, so a busy call does not hold a thread while other calls wait.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Lane(Executor):
    """Runs its jobs one at a time, in order, on the threads of ``pool`` (an ``Executor``)."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._jobs: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._queued = False  # a turn of this lane is waiting on (or running in) the pool
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn(*args, **kwargs)`` after every job queued before it; RuntimeError once shut down."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._jobs.append((future, lambda: fn(*args, **kwargs)))
            start, self._queued = not self._queued, True
            self._idle.clear()
        if start:
            self._pool.submit(self._turn)
        return future

    def _turn(self) -> None:
        """Run the next job, then queue the lane again if it has more."""
        with self._lock:
            future, job = self._jobs.popleft()
        if future.set_running_or_notify_cancel():
            try:
                result = job()
            except BaseException as exc:  # the caller's future carries it
                future.set_exception(exc)
            else:
                future.set_result(result)
        with self._lock:
            more = bool(self._jobs)
            self._queued = more
            if not more:
                self._idle.set()
        if more:
            self._pool.submit(self._turn)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new jobs; with ``wait``, return once every queued job has run."""
        with self._lock:
            self._closed = True
            if cancel_futures:
                for future, _ in self._jobs:
                    future.cancel()
        if wait:
            self._idle.wait()
