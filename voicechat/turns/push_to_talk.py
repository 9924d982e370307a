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
from dataclasses import dataclass

from voicechat.audio.decode import AudioRejected, DecodedAudio, decode_upload, is_silent
from voicechat.config import Settings
from voicechat.errors import InvalidInput, ProviderError
from voicechat.models import Message, TurnMetrics, User
from voicechat.providers.base import LLM
from voicechat.providers.speech_factory import Recogniser, Speaker
from voicechat.sentences import speakable, split_sentences
from voicechat.storage.conversations import title_from
from voicechat.storage.store import Store
from voicechat.turns.speech import KeptClip, keep_clip, recognise, speak
from voicechat.turns.text import ChatService, TextTurn, TurnOptions
from voicechat.validation import clean_transcript

log = logging.getLogger(__name__)
VOICE_TITLE = "Voice conversation"


class TranscriptionFailed(ProviderError):
    """The recogniser failed; the recording is stored with its message, so the user can type instead."""

    def __init__(self, cause: ProviderError, *, message: Message) -> None:
        super().__init__(
            "I couldn't transcribe your recording - it is saved in the conversation. "
            f"Please type your message instead. ({cause.user_message})",
            retryable=cause.retryable,
        )
        self.message = message


class NothingHeard(InvalidInput):
    """The recogniser returned no words; the recording is kept with its message."""

    def __init__(self, *, message: Message) -> None:
        super().__init__(
            "I didn't catch anything. Your recording is saved - try again, or type your message."
        )
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
        pending = self._store.conversations.add_message(
            owner_id=user.id,
            conversation_id=conversation.id,
            role="user",
            content="",
            status="pending",
            is_voice=True,
        )
        # The recording is encoded and stored while the recogniser works (it is off the critical path), and is
        # attached to the message before anything else happens to it.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="keep-recording") as keeper:
            kept = keeper.submit(self._keep_recording, user, pending, audio)
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
                kept.result()
                failed = self._mark_failed(user, pending, error=type(exc).__name__)
                raise TranscriptionFailed(exc, message=failed) from exc
            kept.result()
        text = clean_transcript(transcript.text)
        if not text:
            raise NothingHeard(message=self._mark_failed(user, pending, error="NothingHeard"))
        message = self._store.conversations.update_message(
            owner_id=user.id,
            message_id=pending.id,
            content=text,
            status="complete",
            metrics=TurnMetrics(stt_ms=transcript.latency_ms),
        )
        if conversation.title == VOICE_TITLE and conversation.message_count == 0:
            self._store.conversations.rename(
                owner_id=user.id, conversation_id=conversation.id, title=title_from(text)
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
        clip = self._keep(reply, spoken.pcm, spoken.sample_rate)
        message = self._store.conversations.update_message(
            owner_id=user.id,
            message_id=reply.id,
            audio_id=clip.id,
            metrics=TurnMetrics(tts_first_byte_ms=spoken.first_byte_ms),
        )
        return SpokenReply(audio=clip.data, content_type=clip.content_type, message=message)

    def _keep_recording(self, user: User, message: Message, audio: DecodedAudio) -> None:
        clip = self._keep(message, audio.pcm, audio.sample_rate)
        self._store.conversations.update_message(owner_id=user.id, message_id=message.id, audio_id=clip.id)

    def _keep(self, message: Message, pcm: bytes, sample_rate: int) -> KeptClip:
        """Store a clip for ``message``'s owner and conversation."""
        return keep_clip(
            self._store,
            owner_id=message.owner_id,
            conversation_id=message.conversation_id,
            pcm=pcm,
            sample_rate=sample_rate,
        )

    def _mark_failed(self, user: User, message: Message, *, error: str) -> Message:
        return self._store.conversations.update_message(
            owner_id=user.id, message_id=message.id, status="failed", error=error
        )
