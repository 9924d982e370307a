"""The connected engines' outbox: without a connection only the newest audio waits, however long the call."""

from __future__ import annotations

import asyncio

from voicechat.talk.speech_to_speech.connected import AudioOutbox

FRAME = b"\x01\x00" * 320  # 20 ms at 16 kHz


def test_without_a_connection_only_the_newest_audio_waits() -> None:
    outbox = AudioOutbox(keep_samples=16_000)
    for _ in range(50 * 60):  # a minute of talking while connecting
        outbox.put(FRAME)
    assert 16_000 - 320 <= outbox.samples <= 16_000


def test_with_a_connection_nothing_is_dropped_and_a_drop_trims_again() -> None:
    outbox = AudioOutbox(keep_samples=16_000)
    outbox.open()
    for _ in range(250):  # 5 s the sender has not taken yet
        outbox.put(FRAME)
    assert outbox.samples == 250 * 320
    outbox.hold()  # the connection dropped
    assert outbox.samples <= 16_000
    for _ in range(500):
        outbox.put(FRAME)
    assert outbox.samples <= 16_000


def test_the_sender_gets_everything_waiting_at_once_oldest_first() -> None:
    outbox = AudioOutbox(keep_samples=16_000)
    outbox.put(b"\x01\x00" * 10)
    outbox.put(b"\x02\x00" * 10)
    outbox.open()
    assert asyncio.run(outbox.get()) == b"\x01\x00" * 10 + b"\x02\x00" * 10
    assert outbox.samples == 0
