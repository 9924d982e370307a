"""A whole push-to-talk turn against the fake providers: recording -> transcript -> reply -> spoken reply.

Bad recordings store nothing and call no provider; a failing recogniser keeps the recording; a failing voice
keeps the text reply.
"""

from __future__ import annotations

import os
from datetime import date

import pytest

from tests.fakes.audio_samples import silence_pcm, spoken_wav, tone_pcm, transcode, wav_bytes
from tests.fakes.openai_server import FakeOpenAI
from voicechat.audio.decode import AudioRejected, decode_upload
from voicechat.config import Settings
from voicechat.errors import NotFound, ProviderUnavailable
from voicechat.models import User, VoicePreferences
from voicechat.providers.openai.client import make_client
from voicechat.providers.openai.llm import OpenAIChat
from voicechat.providers.speech_factory import Recogniser, recogniser_for, speaker_for
from voicechat.storage.store import Store
from voicechat.turns.push_to_talk import NothingHeard, TranscriptionFailed, VoiceTurnService
from voicechat.turns.text import ChatService, TurnOptions

OPTIONS = TurnOptions(model="gpt-6-luna", system_prompt="Be brief.")
TODAY = date(2026, 11, 24)


@pytest.fixture(scope="module")
def question() -> bytes:
    return spoken_wav("What is the capital of France?")


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email="talker@example.com", name="T")


@pytest.fixture
def service(store: Store, settings: Settings) -> VoiceTurnService:
    return VoiceTurnService(store=store, settings=settings)


@pytest.fixture
def recogniser(settings: Settings) -> Recogniser:
    return recogniser_for(settings, VoicePreferences(language="en"))


@pytest.fixture
def llm(settings: Settings) -> OpenAIChat:
    return OpenAIChat(client=make_client(settings))


def nothing_stored(store: Store, user: User) -> bool:
    conversations = store.conversations.list_page(owner_id=user.id).items
    audio_files = store.db.run(lambda db: db["audio.files"].count_documents({}))
    return not conversations and audio_files == 0 and not store.usage.events_for(user_id=user.id)


def test_a_voice_turn_is_transcribed_answered_spoken_and_stored(
    service: VoiceTurnService,
    store: Store,
    user: User,
    recogniser: Recogniser,
    llm: OpenAIChat,
    settings: Settings,
    fake_openai: FakeOpenAI,
    question: bytes,
) -> None:
    fake_openai.transcript = "What is the capital of France?"
    turn = service.begin_voice_turn(
        user=user,
        conversation_id=None,
        recording=transcode(question, "webm"),
        options=OPTIONS,
        recogniser=recogniser,
        llm=llm,
    )
    assert turn.user_message.is_voice and turn.user_message.content == "What is the capital of France?"
    assert "".join(turn.stream_reply()) == "You said: What is the capital of France?"
    assert turn.reply is not None
    spoken = service.speak_reply(
        user=user, reply=turn.reply, speaker=speaker_for(settings, VoicePreferences(), today=TODAY)
    )
    assert spoken is not None and spoken.content_type == "audio/mpeg"

    page = store.conversations.messages_page(owner_id=user.id, conversation_id=turn.conversation.id).items
    assert [(m.role, m.status, m.is_voice) for m in page] == [
        ("user", "complete", True),
        ("assistant", "complete", False),
    ]
    question_clip = store.audio.get(owner_id=user.id, audio_id=str(page[0].audio_id))
    reply_clip = store.audio.get(owner_id=user.id, audio_id=str(page[1].audio_id))
    assert abs(decode_upload(question_clip.data).seconds - decode_upload(question).seconds) < 0.1
    assert decode_upload(reply_clip.data).seconds == pytest.approx(0.06 * len(turn.reply.content), abs=0.2)
    assert page[0].metrics.stt_ms is not None and page[1].metrics.tts_first_byte_ms is not None
    conversation = store.conversations.get(owner_id=user.id, conversation_id=turn.conversation.id)
    assert conversation.title == "What is the capital of France?" and conversation.has_voice
    kinds = sorted((e.kind, e.status) for e in store.usage.events_for(user_id=user.id))
    assert kinds == [("chat", "ok"), ("stt", "ok"), ("tts", "ok")]
    [transcription] = [r for r in fake_openai.requests if r.path == "/v1/audio/transcriptions"]
    assert transcription.body["model"] == "gpt-transcribe"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: b"", "empty"),
        (lambda: os.urandom(10_000), "unsupported"),
        (lambda: wav_bytes(silence_pcm(3)), "silent"),
        (lambda: wav_bytes(tone_pcm(301, sample_rate=8_000), sample_rate=8_000), "too_long"),
    ],
    ids=["empty", "random", "silence", "too-long"],
)
def test_bad_recordings_store_nothing_and_call_no_provider(
    service: VoiceTurnService,
    store: Store,
    user: User,
    recogniser: Recogniser,
    llm: OpenAIChat,
    fake_openai: FakeOpenAI,
    make,
    reason: str,  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(AudioRejected) as refused:
        service.begin_voice_turn(
            user=user, conversation_id=None, recording=make(), options=OPTIONS, recogniser=recogniser, llm=llm
        )
    assert refused.value.reason == reason
    assert nothing_stored(store, user)
    assert not fake_openai.requests


def test_a_failing_recogniser_keeps_the_recording_and_asks_to_type(
    service: VoiceTurnService,
    store: Store,
    user: User,
    llm: OpenAIChat,
    settings: Settings,
    fake_openai: FakeOpenAI,
    question: bytes,
) -> None:
    fake_openai.transcription_status = 503
    no_retries = Settings.from_mapping(
        {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_MAX_RETRIES": "0"}
    )
    with pytest.raises(TranscriptionFailed, match="type your message") as failed:
        service.begin_voice_turn(
            user=user,
            conversation_id=None,
            recording=question,
            options=OPTIONS,
            recogniser=recogniser_for(no_retries, VoicePreferences()),
            llm=llm,
        )
    message = failed.value.message
    assert (message.status, message.is_voice, message.error) == ("failed", True, "ProviderUnavailable")
    assert store.audio.get(owner_id=user.id, audio_id=str(message.audio_id)).data  # replayable
    assert not fake_openai.chat_requests()
    [event] = store.usage.events_for(user_id=user.id)
    assert (event.kind, event.status) == ("stt", "error")
    # The next (typed) turn does not send the failed voice message to the model.
    retry = ChatService(store=store, settings=settings).begin_text_turn(
        user=user,
        conversation_id=message.conversation_id,
        text="Capital of France?",
        options=OPTIONS,
        llm=llm,
    )
    "".join(retry.stream_reply())
    sent = fake_openai.chat_requests()[0].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]


def test_nothing_understood_keeps_the_recording(
    service: VoiceTurnService,
    store: Store,
    user: User,
    recogniser: Recogniser,
    llm: OpenAIChat,
    fake_openai: FakeOpenAI,
    question: bytes,
) -> None:
    fake_openai.transcript = "   "
    with pytest.raises(NothingHeard, match="didn't catch anything") as heard:
        service.begin_voice_turn(
            user=user,
            conversation_id=None,
            recording=question,
            options=OPTIONS,
            recogniser=recogniser,
            llm=llm,
        )
    assert heard.value.message.status == "failed"
    assert store.audio.get(owner_id=user.id, audio_id=str(heard.value.message.audio_id)).data


def test_a_failing_voice_keeps_the_text_reply(
    service: VoiceTurnService,
    store: Store,
    user: User,
    recogniser: Recogniser,
    llm: OpenAIChat,
    settings: Settings,
    fake_openai: FakeOpenAI,
    question: bytes,
) -> None:
    turn = service.begin_voice_turn(
        user=user, conversation_id=None, recording=question, options=OPTIONS, recogniser=recogniser, llm=llm
    )
    reply = "".join(turn.stream_reply())
    fake_openai.speech_status = 503
    no_retries = Settings.from_mapping(
        {
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": fake_openai.base_url,
            "OPENAI_MAX_RETRIES": "0",
            "VOICECHAT_SPEECH_ROUTE": "speech-endpoint",
        }
    )
    assert turn.reply is not None
    with pytest.raises(ProviderUnavailable):
        service.speak_reply(
            user=user, reply=turn.reply, speaker=speaker_for(no_retries, VoicePreferences(), today=TODAY)
        )
    stored = store.conversations.messages_page(owner_id=user.id, conversation_id=turn.conversation.id).items[
        -1
    ]
    assert (stored.content, stored.status, stored.audio_id) == (reply, "complete", None)
    assert ("tts", "error") in [(e.kind, e.status) for e in store.usage.events_for(user_id=user.id)]


def test_a_foreign_conversation_is_not_found_and_nothing_is_stored(
    service: VoiceTurnService,
    store: Store,
    user: User,
    recogniser: Recogniser,
    llm: OpenAIChat,
    fake_openai: FakeOpenAI,
    question: bytes,
) -> None:
    other = store.users.get_or_create(email="other@example.com", name="O")
    theirs = store.conversations.create(owner_id=other.id, title="private")
    with pytest.raises(NotFound):
        service.begin_voice_turn(
            user=user,
            conversation_id=theirs.id,
            recording=question,
            options=OPTIONS,
            recogniser=recogniser,
            llm=llm,
        )
    assert nothing_stored(store, user)
    assert not fake_openai.requests
