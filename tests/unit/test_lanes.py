"""Storage lanes: each call's jobs in order, one at a time, on a pool every call shares."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from voicechat.talk.runtime.lanes import Lane


def test_a_lanes_jobs_run_one_at_a_time_in_order_while_other_lanes_use_the_pool() -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        lanes = [Lane(pool) for _ in range(4)]
        done: dict[int, list[int]] = {index: [] for index in range(4)}
        busy = [0] * 4
        overlaps: list[int] = []

        def job(lane: int, n: int) -> int:
            busy[lane] += 1
            if busy[lane] > 1:
                overlaps.append(lane)
            time.sleep(0.001)
            done[lane].append(n)
            busy[lane] -= 1
            return n * 10

        futures = [lane.submit(job, index, n) for n in range(20) for index, lane in enumerate(lanes)]
        assert [f.result(timeout=10) for f in futures] == [n * 10 for n in range(20) for _ in range(4)]
        assert done == {index: list(range(20)) for index in range(4)}
        assert overlaps == []


def test_a_busy_lane_does_not_hold_the_pool_while_another_lane_waits() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        busy, other = Lane(pool), Lane(pool)
        order: list[str] = []
        release = threading.Event()
        busy.submit(release.wait, 10)
        for n in range(3):
            busy.submit(order.append, f"busy {n}")
        waiting = other.submit(order.append, "other")
        release.set()
        waiting.result(timeout=10)
        busy.shutdown(wait=True)
        assert order.index("other") < order.index("busy 2")  # taken in turn, not after the whole queue


def test_shutdown_waits_for_every_queued_job_then_refuses_new_ones() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        lane = Lane(pool)
        stored: list[int] = []
        for n in range(5):
            lane.submit(lambda n=n: (time.sleep(0.01), stored.append(n)))
        lane.shutdown(wait=True)
        assert stored == [0, 1, 2, 3, 4]
        with pytest.raises(RuntimeError):
            lane.submit(stored.append, 5)


def test_a_failing_job_fails_its_future_and_the_lane_goes_on() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        lane = Lane(pool)
        failed = lane.submit(lambda: 1 / 0)
        after = lane.submit(lambda: "next")
        with pytest.raises(ZeroDivisionError):
            failed.result(timeout=10)
        assert after.result(timeout=10) == "next"
