"""Turn-taking states with a scripted speech probability (exact timings), then the real models on audio."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from tests.fakes.audio_samples import silence_pcm, spoken_wav, tone_pcm
from voicechat.audio.decode import decode_upload
from voicechat.audio.vad import WINDOW, SileroVAD, TurnDetector, VadParams, WebRtcVAD

WINDOW_BYTES = WINDOW * 2


class Scripted:
    """Speech probability read from a list, one value per 32 ms window."""

    name = "scripted"

    def __init__(self, scores: list[float]) -> None:
        self._scores = iter(scores)

    def __call__(self, window: npt.NDArray[np.float32]) -> float:
        return next(self._scores)


def windows(pattern: str) -> list[float]:
    """'S' a speech window, '.' a silent one."""
    return [0.9 if c == "S" else 0.05 for c in pattern]


def run(pattern: str, params: VadParams) -> tuple[TurnDetector, list[tuple[str, float, float]], list[str]]:
    detector = TurnDetector(Scripted(windows(pattern)), params)
    events, states = [], []
    for index in range(len(pattern)):
        for event in detector.feed(tone_pcm(WINDOW / 16_000, amplitude=0.1)[:WINDOW_BYTES]):
            events.append((event.type, event.at, len(event.audio) / 2 / 16_000))
        states.append(detector.state)
        assert detector.now == pytest.approx((index + 1) * WINDOW / 16_000)
    return detector, events, states


PARAMS = VadParams(threshold=0.5, start_secs=0.096, stop_secs=0.192, preroll_secs=0.064, min_turn_secs=0.3)


def test_states_go_quiet_starting_speaking_stopping_quiet() -> None:
    _, events, states = run("..SSSSSSSSSSSS......", PARAMS)
    assert states[:6] == ["quiet", "quiet", "starting", "starting", "speaking", "speaking"]
    assert states[14:] == ["stopping"] * 5 + ["quiet"]
    assert [e[0] for e in events] == ["speech_started", "turn_ended"]
    assert events[0][1] == pytest.approx(2 * 0.032)  # onset: the first speech window
    assert events[1][1] == pytest.approx(14 * 0.032)  # end of speech: after the last speech window
    assert events[1][2] >= 12 * 0.032  # the turn's audio holds all of its speech, pre-roll included


def test_a_short_burst_never_starts_a_turn() -> None:
    _, events, states = run("..SS......", PARAMS)  # 64 ms < start_secs
    assert not events and "speaking" not in states


def test_a_pause_shorter_than_stop_secs_does_not_end_the_turn() -> None:
    _, events, _ = run("SSSSSSSSSS....SSSSSSSSSS.......", PARAMS)  # 128 ms pause < 192 ms
    assert [e[0] for e in events] == ["speech_started", "turn_ended"]


def test_a_confirmed_but_short_sound_is_noise_not_a_turn() -> None:
    _, events, _ = run("SSSSS.......", PARAMS)  # 160 ms of speech < min_turn_secs
    assert [e[0] for e in events] == ["speech_started", "noise"]


def test_sensitivity_maps_to_threshold() -> None:
    assert VadParams.from_preferences(silence_ms=800, sensitivity=0.5).threshold == pytest.approx(0.5)
    assert VadParams.from_preferences(silence_ms=800, sensitivity=1.0).threshold == pytest.approx(0.2)
    assert VadParams.from_preferences(silence_ms=800, sensitivity=0.0).stop_secs == pytest.approx(0.8)


@pytest.mark.parametrize("model", [SileroVAD, WebRtcVAD])
def test_real_models_find_one_turn_in_speech_and_none_in_hum(model: type) -> None:
    speech = decode_upload(spoken_wav("Hello there, what is the weather like in Paris today?")).pcm
    detector = TurnDetector(model(), VadParams())
    events = detector.feed(silence_pcm(0.5) + speech + silence_pcm(1.0))
    assert [e.type for e in events] == ["speech_started", "turn_ended"]
    assert events[0].at == pytest.approx(0.5, abs=0.15)
    hum = TurnDetector(model(), VadParams()).feed(tone_pcm(3, frequency=50, amplitude=0.02))
    assert not [e for e in hum if e.type == "turn_ended"]


def test_a_turn_never_holds_more_than_the_longest_recording_allowed() -> None:
    # A user who never pauses (or a stuck microphone) ends their turn at the cap: memory stays bounded.
    windows_in_5s = 5 * 16_000 // WINDOW
    detector = TurnDetector(
        Scripted(windows("S" * windows_in_5s)), VadParams(start_secs=0.064, max_turn_secs=2.0)
    )
    events = detector.feed(tone_pcm(5.0, amplitude=0.1)[: windows_in_5s * WINDOW_BYTES])  # 5 s, never a pause
    ended = [e for e in events if e.type == "turn_ended"]
    assert len(ended) == 2  # two turns of the longest length, the rest still open
    assert all(2.0 <= len(e.audio) / 2 / 16_000 <= 2.0 + WINDOW / 16_000 for e in ended)


PAUSING = VadParams(
    threshold=0.5,
    start_secs=0.096,
    stop_secs=0.32,
    preroll_secs=0.064,
    min_turn_secs=0.3,
    settle_secs=0.064,
    pause_secs=0.128,
)


def test_a_pause_is_reported_settling_then_paused_and_a_resumption_after_it() -> None:
    _, events, _ = run("..SSSSSSSSSSSS.....SSSSSSS" + "." * 12, PAUSING)
    kinds = [e[0] for e in events]
    assert kinds == ["speech_started", "settling", "paused", "resumed", "settling", "paused", "turn_ended"]
    settling, paused = events[1], events[2]
    assert settling[1] == paused[1] == pytest.approx(14 * 0.032)  # both name the end of the speech
    assert paused[2] > settling[2]  # with the silence so far: the turn model hears the pause


def test_end_turn_ends_a_paused_turn_at_once_and_not_a_spoken_one() -> None:
    detector, events, _ = run("..SSSSSSSSSSSS....", PAUSING)
    assert [e[0] for e in events][-1] == "paused" and detector.state == "stopping"
    ended = detector.end_turn()
    assert ended is not None and ended.type == "turn_ended" and detector.state == "quiet"
    assert ended.at == pytest.approx(14 * 0.032)
    assert detector.end_turn() is None  # already ended


def test_without_pause_settings_no_pause_is_reported() -> None:
    _, events, _ = run("..SSSSSSSSSSSS.....SSSSSSS........", PARAMS)
    assert [e[0] for e in events] == ["speech_started", "turn_ended"]
