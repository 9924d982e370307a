"""A push-to-talk turn: a recording in, its transcript as the user's message, the reply as text, then spoken.

Order matters for "nothing lost": the recording is validated (bad audio is refused before anything is
stored), then a pending voice message is stored *before* the recogniser is called; the recording itself is
encoded and attached to it while the recogniser works. If recognition fails the
message stays (marked failed) with its replayable recording and the user is asked to type. The reply is
streamed and stored as in a text turn; speaking it comes last, and if that fails the text reply stands.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from voicechat.audio.decode import AudioRejected, decode_upload, is_silent
from voicechat.config import Settings
from voicechat.errors import InvalidInput, ProviderError
from voicechat.models import Message, TurnMetrics, User
from voicechat.providers.base import LLM
from voicechat.providers.speech_factory import Recogniser, Speaker
from voicechat.sentences import speakable, split_sentences
from voicechat.storage.store import Store
from voicechat.turns.speech import recognise, speak
from voicechat.turns.text import ChatService, TextTurn, TurnOptions
from voicechat.turns.writer import VOICE_TITLE, MessageMeta, TurnWriter
from voicechat.validation import clean_transcript

log = logging.getLogger(__name__)


NOTHING_HEARD = "I didn't catch anything. Your recording is saved - try again, or type your message."


def not_transcribed(cause: ProviderError) -> str:
    """What the user is told when the recogniser failed (their recording is kept)."""
    return (
        "I couldn't transcribe your recording - it is saved in the conversation. "
        f"Please type your message instead. ({cause.user_message})"
    )


class TranscriptionFailed(ProviderError):
    """The recogniser failed; the recording is stored with its message, so the user can type instead."""

    def __init__(self, cause: ProviderError, *, message: Message) -> None:
        super().__init__(not_transcribed(cause), retryable=cause.retryable)
        self.message = message


class NothingHeard(InvalidInput):
    """The recogniser returned no words; the recording is kept with its message."""

    def __init__(self, *, message: Message) -> None:
        super().__init__(NOTHING_HEARD)
        self.message = message


@dataclass(frozen=True)
class SpokenReply:
    """The spoken reply as stored: playable bytes, their type, and the reply with its audio attached."""

    audio: bytes
    content_type: str
    message: Message


class VoiceTurnService:
    """Starts push-to-talk turns and speaks replies. Stateless apart from its collaborators."""

    def __init__(self, *, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._chat = ChatService(store=store, settings=settings)

    def begin_voice_turn(
        self,
        *,
        user: User,
        conversation_id: str | None,
        recording: bytes,
        options: TurnOptions,
        recogniser: Recogniser,
        llm: LLM,
    ) -> TextTurn:
        """Validate, store and transcribe a recording; return the turn whose reply the page streams.

        Raises AudioRejected (nothing stored), NotFound, TranscriptionFailed or NothingHeard (recording kept).
        """
        audio = decode_upload(recording, max_seconds=self._settings.max_audio_seconds)
        if is_silent(audio):
            raise AudioRejected(
                "silent",
                "I didn't catch anything - the recording is silent. Check your microphone and try again.",
            )
        conversation, options = self._chat.open_conversation(
            user=user, conversation_id=conversation_id, options=options, title=VOICE_TITLE
        )
        context = self._store.context.load(conversation)
        writer = TurnWriter(self._store, user)
        writer.opened(conversation)
        pending = writer.user_message(conversation.id, "", MessageMeta(status="pending", is_voice=True))
        # The recording is encoded and stored while the recogniser works (it is off the critical path), and is
        # attached to the message before anything else happens to it.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="keep-recording") as keeper:
            kept = keeper.submit(writer.attach_clip, pending, audio.pcm, audio.sample_rate)
            try:
                transcript = recognise(
                    recogniser,
                    audio.pcm,
                    sample_rate=audio.sample_rate,
                    store=self._store,
                    user=user,
                    prices=self._settings.price_tables,
                    conversation_id=conversation.id,
                )
            except ProviderError as exc:
                pending = replace(pending, audio_id=kept.result().id)
                failed = writer.transcribed(pending, None, error=type(exc).__name__)
                raise TranscriptionFailed(exc, message=failed) from exc
            pending = replace(pending, audio_id=kept.result().id)
        text = clean_transcript(transcript.text)
        if not text:
            raise NothingHeard(message=writer.transcribed(pending, None, error="NothingHeard"))
        message = writer.transcribed(
            pending,
            text,
            metrics=TurnMetrics(stt_ms=transcript.latency_ms),
            retitle=conversation.title == VOICE_TITLE and conversation.message_count == 0,
        )
        log.info("voice turn transcribed conversation=%s seconds=%.1f", conversation.id, audio.seconds)
        return self._chat.reply_to(
            user=user, conversation=conversation, message=message, context=context, options=options, llm=llm
        )

    def speak_reply(self, *, user: User, reply: Message, speaker: Speaker) -> SpokenReply | None:
        """Speak a stored reply, store the audio and attach it to the message (None: nothing to say).

        Raises ProviderError (the text reply stays as it is); a usage event is recorded either way.
        """
        if not split_sentences(speakable(reply.content)):
            return None
        spoken = speak(
            speaker,
            reply.content,
            store=self._store,
            user=user,
            prices=self._settings.price_tables,
            conversation_id=reply.conversation_id,
        )
        writer = TurnWriter(self._store, user)
        clip = writer.keep_clip(reply.conversation_id, spoken.pcm, spoken.sample_rate)
        message = writer.settle_reply(
            reply,
            heard=None,
            status=None,
            metrics=TurnMetrics(tts_first_byte_ms=spoken.first_byte_ms),
            audio_id=clip.id,
        )
        return SpokenReply(audio=clip.data, content_type=clip.content_type, message=message)
