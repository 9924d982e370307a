"""Voice preferences page (AppTest): saved per user, validated, unavailable options explained and refused."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, online_app
from tests.fakes.elevenlabs_server import API_KEY as ELEVENLABS_KEY
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.openai_server import FakeOpenAI
from voicechat import defaults
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store


@pytest.fixture
def prefs_page(mongo_uri: str, fake_openai: FakeOpenAI) -> AppTest:
    # The auto speech route is tested with a set clock.
    at = online_app(mongo_uri, fake_openai, VOICECHAT_SPEECH_ROUTE="speech-endpoint")
    at.run()
    at.switch_page("app_pages/voice_preferences.py").run()
    return at


def saved(mongo_uri: str) -> object:
    db = Database.connect(mongo_uri)
    try:
        store = Store.over(db, cache=MemoryContextCache(), context_size=5)
        user = store.users.get_or_create(
            email=defaults.LOCAL_USER_EMAIL, name=defaults.LOCAL_USER_NAME, admin=True
        )
        return store.users.preferences(user.id)
    finally:
        db.close()


def test_saved_preferences_persist_and_the_persona_reaches_the_next_chat(
    prefs_page: AppTest, mongo_uri: str, fake_openai: FakeOpenAI
) -> None:
    assert not prefs_page.exception
    voice = next(s for s in prefs_page.selectbox if s.label == "Voice")
    assert {"Alloy", "Verse", "Marin"} <= set(voice.options)  # OpenAI's voices, by name
    voice.set_value("verse")
    prefs_page.toggle[1].set_value(False)  # barge-in off
    patience = prefs_page.radio[0]
    assert patience.value == "balanced" and "waits up to 1.2 s" in patience.format_func("balanced")
    patience.set_value("patient")
    prefs_page.text_area[0].input("You are a pirate. Answer in one line.")
    prefs_page.button[0].click().run()
    assert "Saved" in prefs_page.success[0].value
    stored = saved(mongo_uri)
    assert (stored.voice, stored.barge_in, stored.patience, stored.persona) == (
        "verse",
        False,
        "patient",
        "You are a pirate. Answer in one line.",
    )  # type: ignore[attr-defined]
    # A new browser session starts its chat with the saved persona, and the model receives it.
    chat = AppTest.from_file(APP, default_timeout=30)
    chat.secrets.update(dict(prefs_page.secrets))
    chat.run()
    chat.chat_input[0].set_value("Hello").run()
    system = fake_openai.chat_requests()[-1].body["messages"][0]["content"]
    assert system.startswith("You are a pirate. Answer in one line.\n\n")  # then the tools' data rule


def test_unavailable_options_are_explained_and_refused(prefs_page: AppTest, mongo_uri: str) -> None:
    engine = next(s for s in prefs_page.selectbox if s.label == "Engine")
    assert "elevenlabs-agent (unavailable: needs ELEVENLABS_AGENT_ID)" in engine.options
    engine.set_value("elevenlabs-agent")
    prefs_page.button[0].click().run()
    assert "Not available on this deployment" in prefs_page.error[0].value
    assert saved(mongo_uri).talk_engine == "cascaded"  # type: ignore[attr-defined]


def test_bad_language_is_refused_with_a_message(prefs_page: AppTest, mongo_uri: str) -> None:
    next(t for t in prefs_page.text_input if t.label == "Language").input("klingon!")
    prefs_page.button[0].click().run()
    assert "Language must be" in prefs_page.error[0].value
    assert saved(mongo_uri).language == "auto"  # type: ignore[attr-defined]


def test_preview_speaks_the_chosen_voice_and_records_usage(
    prefs_page: AppTest, mongo_uri: str, fake_openai: FakeOpenAI
) -> None:
    next(s for s in prefs_page.selectbox if s.label == "Voice").set_value("verse")
    next(n for n in prefs_page.number_input if n.label == "Speed").set_value(1.5)
    next(b for b in prefs_page.button if b.label == "Preview voice").click().run()
    assert not prefs_page.exception and not prefs_page.error
    spoken = fake_openai.requests[-1]
    assert spoken.path == "/v1/audio/speech"
    assert (spoken.body["voice"], spoken.body["speed"], spoken.body["response_format"]) == (
        "verse",
        1.5,
        "pcm",
    )
    assert spoken.body["model"] == defaults.DEFAULT_TTS_MODEL
    assert len(prefs_page.get("audio")) == 1
    assert saved(mongo_uri).voice == "alloy"  # previewing does not save  # type: ignore[attr-defined]
    db = Database.connect(mongo_uri)
    try:
        event = db.run(lambda raw: raw.usage_events.find_one({"kind": "tts"}))
    finally:
        db.close()
    assert (
        event is not None
        and event["status"] == "ok"
        and event["audio_seconds"] > 0
        and event["characters"] > 0
    )


def test_preview_failure_is_explained(prefs_page: AppTest, fake_openai: FakeOpenAI) -> None:
    fake_openai.speech_status = 400
    next(b for b in prefs_page.button if b.label == "Preview voice").click().run()
    assert not prefs_page.exception
    assert "The voice preview is not available right now" in prefs_page.error[0].value
    assert not prefs_page.get("audio")


def test_an_overlong_persona_is_refused_not_cut(prefs_page: AppTest, mongo_uri: str) -> None:
    prefs_page.text_area[0].input("Be kind. " * 500)  # 4,500 characters
    prefs_page.button[0].click().run()
    assert "too long" in prefs_page.error[0].value
    assert saved(mongo_uri).persona is None  # type: ignore[attr-defined]


def test_previews_count_against_the_voice_limit(mongo_uri: str, fake_openai: FakeOpenAI) -> None:
    at = online_app(
        mongo_uri,
        fake_openai,
        VOICECHAT_SPEECH_ROUTE="speech-endpoint",
        VOICECHAT_VOICE_RATE_LIMIT="2/minute",
    )
    at.run()
    at.switch_page("app_pages/voice_preferences.py").run()
    for _ in range(2):
        next(b for b in at.button if b.label == "Preview voice").click().run()
        assert not at.error
    next(b for b in at.button if b.label == "Preview voice").click().run()
    assert "limit of 2 voice turns per minute" in at.error[0].value
    assert len([r for r in fake_openai.requests if r.path == "/v1/audio/speech"]) == 2  # the third never left


def test_the_voice_list_follows_the_provider_with_elevenlabs_fetched(
    mongo_uri: str, fake_openai: FakeOpenAI, fake_elevenlabs: FakeElevenLabs
) -> None:
    prefs = online_app(
        mongo_uri,
        fake_openai,
        ELEVENLABS_API_KEY=ELEVENLABS_KEY,
        ELEVENLABS_BASE_URL=fake_elevenlabs.base_url,
        VOICECHAT_SPEECH_ROUTE="speech-endpoint",
    )
    prefs.run()
    prefs.switch_page("app_pages/voice_preferences.py").run()
    next(s for s in prefs.selectbox if s.label == "Text-to-speech provider").set_value("elevenlabs").run()
    voice = next(s for s in prefs.selectbox if s.label == "Voice")
    assert voice.options == ["Rachel", "Adam"]  # the account's voices, by name
    voice.set_value("voice_el_2")
    next(b for b in prefs.button if b.label == "Preview voice").click().run()
    assert not prefs.exception and not prefs.error
    spoken = [r for r in fake_elevenlabs.requests if r.path.startswith("/v1/text-to-speech/")]
    assert spoken[-1].body["voice_id"] == "voice_el_2"  # the sample is heard before saving
    next(b for b in prefs.button if b.label == "Save").click().run()
    assert (saved(mongo_uri).tts_provider, saved(mongo_uri).voice) == ("elevenlabs", "voice_el_2")  # type: ignore[attr-defined]
