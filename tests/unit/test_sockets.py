"""Reading the Realtime API's events lightly: the same fields as the SDK's types, built only where needed."""

from __future__ import annotations

import json

from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import ResponseAudioDeltaEvent, ResponseDoneEvent

from voicechat.providers.sockets import parse_lightly

AUDIO_DELTA = {
    "type": "response.output_audio.delta",
    "event_id": "event_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "AAAA",
}
RESPONSE_DONE = {
    "type": "response.done",
    "event_id": "event_2",
    "response": {"id": "resp_1", "object": "realtime.response", "status": "completed", "output": []},
}


class SdkParsing:
    """The part of the SDK's connection ``parse_lightly`` wraps: its own ``parse_event``."""

    parse_event = AsyncRealtimeConnection.parse_event


def test_an_event_not_named_is_read_as_its_fields_with_the_sdks_values() -> None:
    connection = SdkParsing()
    typed = connection.parse_event(json.dumps(AUDIO_DELTA))
    parse_lightly(connection, frozenset({"response.done"}))
    light = connection.parse_event(json.dumps(AUDIO_DELTA).encode())
    assert isinstance(typed, ResponseAudioDeltaEvent) and not isinstance(light, ResponseAudioDeltaEvent)
    for name in ("type", "response_id", "item_id", "delta", "content_index"):
        assert getattr(light, name) == getattr(typed, name)


def test_an_event_named_typed_is_still_the_sdks_type() -> None:
    connection = SdkParsing()
    parse_lightly(connection, frozenset({"response.done"}))
    done = connection.parse_event(json.dumps(RESPONSE_DONE))
    assert isinstance(done, ResponseDoneEvent)
    assert done.response.id == "resp_1" and done.response.status == "completed"
    assert connection.parse_event("[1, 2]") == [1, 2]  # not an event: as the SDK gives it back
