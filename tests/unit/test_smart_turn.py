"""The end-of-turn model, real (Smart Turn v3.2 as installed by make setup), on synthesised speech."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fakes.audio_samples import silence_pcm, spoken_wav
from voicechat.audio.decode import decode_upload
from voicechat.audio.smart_turn import SMART_TURN_SHA256, SmartTurn, load_turn_model, smart_turn_path
from voicechat.defaults import TURN_COMPLETE_THRESHOLD


def spoken(text: str) -> bytes:
    """16 kHz PCM of ``text`` and the 200 ms pause after it the model is asked in."""
    return decode_upload(spoken_wav(text)).pcm + silence_pcm(0.2)


def test_the_installed_model_is_the_pinned_file() -> None:
    assert hashlib.sha256(smart_turn_path().read_bytes()).hexdigest() == SMART_TURN_SHA256
    assert load_turn_model() is not None


@pytest.mark.parametrize(
    "text", ["What is the capital of France?", "Can you tell me how to cook rice?", "Thanks, that is all."]
)
def test_a_complete_utterance_is_finished(text: str) -> None:
    model = load_turn_model()
    assert model is not None
    assert model(spoken(text)) >= TURN_COMPLETE_THRESHOLD


@pytest.mark.parametrize("text", ["I would like to know", "So what I want is"])
def test_an_utterance_cut_mid_clause_is_not_finished(text: str) -> None:
    model = load_turn_model()
    assert model is not None
    assert model(spoken(text)) < TURN_COMPLETE_THRESHOLD


def test_a_model_file_that_does_not_match_its_hash_is_refused(tmp_path: Path) -> None:
    forged = tmp_path / "smart-turn.onnx"
    forged.write_bytes(smart_turn_path().read_bytes()[:-1] + b"\0")
    with pytest.raises(RuntimeError, match="pinned hash"):
        SmartTurn(forged)


def test_pauses_in_several_calls_at_once_get_their_own_scores() -> None:
    model = load_turn_model()
    assert model is not None
    finished, unfinished = spoken("What is the capital of France?"), spoken("I would like to know")
    alone = (model(finished), model(unfinished))
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(model, [finished, unfinished] * 3))
    assert together == [pytest.approx(alone[0], abs=1e-4), pytest.approx(alone[1], abs=1e-4)] * 3


def test_a_pause_no_longer_wanted_when_the_model_is_free_is_not_scored() -> None:
    model = load_turn_model()
    assert model is not None
    asked: list[bool] = []

    def wanted(answer: bool) -> Callable[[], bool]:
        def still_wanted() -> bool:
            asked.append(answer)
            return answer

        return still_wanted

    assert model(spoken("What is the capital of France?"), wanted(False)) is None
    assert (model(spoken("What is the capital of France?"), wanted(True)) or 0) >= TURN_COMPLETE_THRESHOLD
    assert asked == [False, True]
