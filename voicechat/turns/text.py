"""One text turn: validate, store the user's message, stream the reply, store the reply and its usage.

The user's message is stored before any provider is called, and the reply is stored however the stream ends
(complete, cut by a provider failure, or abandoned by the page), so nothing the user said is ever lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime

from voicechat.config import Settings
from voicechat.errors import InvalidInput, ProviderError, ProviderRateLimited
from voicechat.models import (
    ContextMessage,
    Conversation,
    Message,
    MessageStatus,
    TurnMetrics,
    UsageStatus,
    User,
)
from voicechat.providers.base import LLM, ChatMessage, ChatRequest, ChatStream, TokenUsage
from voicechat.providers.chat_factory import offered_chat_models
from voicechat.storage.conversations import title_from
from voicechat.storage.store import Store
from voicechat.tokens import estimate_chat_usage, warm_up
from voicechat.turns.writer import MessageMeta, TurnWriter
from voicechat.usage import Usage, chat_cost
from voicechat.validation import clean_message_text, clean_system_prompt

log = logging.getLogger(__name__)
DRAFT_ID = "draft"  # the id of the not-yet-stored user message a drafted reply answers


@dataclass(frozen=True)
class TurnOptions:
    """What the user chose for this turn."""

    model: str
    system_prompt: str


class ChatService:
    """Starts text turns for a user. Stateless apart from its collaborators; safe to share."""

    def __init__(self, *, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        warm_up()  # the tokeniser that prices replies cut short

    def begin_text_turn(
        self, *, user: User, conversation_id: str | None, text: object, options: TurnOptions, llm: LLM
    ) -> TextTurn:
        """Validate and store the user's message; return the turn whose reply the page streams.

        Raises InvalidInput (nothing stored, no provider called) or NotFound (foreign / malformed id).
        """
        content = clean_message_text(text, max_chars=self._settings.max_message_chars)
        conversation, options = self.open_conversation(
            user=user, conversation_id=conversation_id, options=options, title=title_from(content)
        )
        context = self._store.context.load(conversation)
        message = self._store.conversations.add_message(
            owner_id=user.id, conversation_id=conversation.id, role="user", content=content
        )
        return self.reply_to(
            user=user, conversation=conversation, message=message, context=context, options=options, llm=llm
        )

    def open_conversation(
        self, *, user: User, conversation_id: str | None, options: TurnOptions, title: str
    ) -> tuple[Conversation, TurnOptions]:
        """The conversation a turn goes into (created with ``title`` when ``conversation_id`` is None), with
        the chosen model and persona validated and saved on it. Raises InvalidInput or NotFound."""
        system_prompt = clean_system_prompt(options.system_prompt)
        if options.model not in offered_chat_models(self._settings):
            raise InvalidInput("That model is not offered here.")
        conversations = self._store.conversations
        if conversation_id is None:
            conversation = conversations.create(
                owner_id=user.id, title=title, model=options.model, system_prompt=system_prompt
            )
        else:
            conversation = conversations.get(owner_id=user.id, conversation_id=conversation_id)
            if (conversation.model, conversation.system_prompt) != (options.model, system_prompt):
                conversations.set_settings(
                    owner_id=user.id,
                    conversation_id=conversation.id,
                    model=options.model,
                    system_prompt=system_prompt,
                )
        return conversation, TurnOptions(model=options.model, system_prompt=system_prompt)

    def reply_to(
        self,
        *,
        user: User,
        conversation: Conversation,
        message: Message,
        context: list[ContextMessage],
        options: TurnOptions,
        llm: LLM,
        handover: Callable[[Usage], None] | None = None,
    ) -> TextTurn:
        """The turn answering ``message`` (already stored), given the context loaded before it was added;
        ``handover`` as for ``TextTurn``."""
        context = self._store.context.extend(conversation.id, context, _context_of(message))
        return TextTurn(
            store=self._store,
            settings=self._settings,
            user=user,
            conversation=conversation,
            user_message=message,
            context=context,
            options=options,
            llm=llm,
            handover=handover,
        )

    def answer(
        self,
        *,
        user: User,
        message: Message,
        options: TurnOptions,
        llm: LLM,
        billing: Callable[[Usage], None],
    ) -> TextTurn:
        """The turn answering ``message``, stored with everything before it, for a caller that stores the
        reply itself (a Talk turn keeps what was heard) and bills through ``billing``."""
        conversation = self._store.conversations.get(
            owner_id=user.id, conversation_id=message.conversation_id
        )
        before = [m for m in self._store.context.load(conversation) if m.id != message.id]
        return self.reply_to(
            user=user,
            conversation=conversation,
            message=message,
            context=before,
            options=options,
            llm=llm,
            handover=billing,
        )

    def draft(
        self,
        *,
        user: User,
        conversation: Conversation,
        text: str,
        options: TurnOptions,
        llm: LLM,
        billing: Callable[[Usage], None],
    ) -> TextTurn:
        """A reply prepared for ``text`` before it is stored (Talk mode drafts it in the user's pause): its
        context is the conversation so far plus ``text``; nothing of it is stored, its usage goes to
        ``billing``. The caller stores the user's message (and the reply, if it is used) as for ``answer``."""
        context = self._store.context.load(conversation)
        unsaved = Message(
            id=DRAFT_ID,
            conversation_id=conversation.id,
            owner_id=user.id,
            role="user",
            content=text,
            created_at=datetime.now(UTC),
            is_voice=True,
        )
        return TextTurn(
            store=self._store,
            settings=self._settings,
            user=user,
            conversation=conversation,
            user_message=unsaved,
            context=[*context, _context_of(unsaved)],
            options=options,
            llm=llm,
            handover=billing,
        )


class TextTurn:
    """A started turn: ``stream_reply()`` yields the reply's text and stores it when the stream ends."""

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        user: User,
        conversation: Conversation,
        user_message: Message,
        context: list[ContextMessage],
        options: TurnOptions,
        llm: LLM,
        handover: Callable[[Usage], None] | None = None,
    ) -> None:
        """``handover``: the caller stores the reply itself (a Talk turn keeps what was heard) and takes the
        chat call's usage through it; by default the turn stores both."""
        self._store = store
        self._writer = TurnWriter(store, user)
        self._handover = handover
        self.metrics = TurnMetrics()
        self.status: MessageStatus | None = None  # how the reply ended, once it has
        self.error: ProviderError | None = None
        self._settings = settings
        self._user = user
        self.conversation = conversation
        self.user_message = user_message
        self._context = context
        self._options = options
        self._llm = llm
        self.reply: Message | None = None

    def stream_reply(self) -> Generator[str, None, None]:
        """Yield the reply as it streams. Raises ProviderError after storing whatever arrived."""
        request = ChatRequest(
            messages=(
                ChatMessage(role="system", content=self._options.system_prompt),
                # A reply cut off before a word was heard is stored empty; as context it teaches the model to
                # say nothing (a small local model then answers every question with silence).
                *(ChatMessage(role=m.role, content=m.content) for m in self._context if m.content.strip()),
            ),
            model=self._options.model,
            temperature=self._settings.temperature,
            max_output_tokens=self._settings.max_output_tokens,
        )
        parts: list[str] = []
        status: MessageStatus = "interrupted"  # if the page abandons the generator
        error: ProviderError | None = None
        stream: ChatStream | None = None
        try:
            stream = self._llm.stream_chat(request)
            with stream:
                for delta in stream:
                    parts.append(delta)
                    yield delta
            status = "complete"
        except ProviderError as exc:
            status, error = "failed", exc
            raise
        finally:
            self._finish("".join(parts), status=status, error=error, stream=stream, request=request)

    def _finish(
        self,
        text: str,
        *,
        status: MessageStatus,
        error: ProviderError | None,
        stream: ChatStream | None,
        request: ChatRequest,
    ) -> None:
        usage, estimated = billed_usage(stream, request, text)
        model = self._options.model
        # Usage first: whatever happens to the reply below, what the provider billed is on record.
        self._bill(
            Usage(
                kind="chat",
                provider=self._llm.provider,
                model=model,
                status=_usage_status(status, error),
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=chat_cost(
                    model=model,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    prices=self._settings.chat_price_table,
                ),
                latency_ms=stream.first_token_ms if stream else None,
                estimated=estimated,
            )
        )
        self.metrics = TurnMetrics(
            first_token_ms=stream.first_token_ms if stream else None,
            total_ms=stream.total_ms if stream else None,
        )
        self.status, self.error = status, error
        conversation_id = self.conversation.id
        if self._handover is None and (text or status == "complete"):
            error_mark = type(error).__name__ if error else None
            meta = MessageMeta(status=status, model=model, error=error_mark, metrics=self.metrics)
            self.reply = self._writer.reply(conversation_id, text, meta)
            if status != "failed":
                self._store.context.extend(conversation_id, self._context, _context_of(self.reply))
        log.info(
            "turn finished conversation=%s status=%s tokens=%d/%d estimated=%s first_token_ms=%s",
            conversation_id,
            status,
            usage.input_tokens,
            usage.output_tokens,
            estimated,
            self.metrics.first_token_ms,
        )

    def _bill(self, usage: Usage) -> None:
        if self._handover is not None:
            self._handover(usage)
        else:
            self._writer.bill(usage, self.conversation.id)


def billed_usage(stream: ChatStream | None, request: ChatRequest, text: str) -> tuple[TokenUsage, bool]:
    """What a chat call was billed, and whether we counted it: the provider's report when it came; our own
    count when the stream ended before its report (a reply cut short is billed too); nothing for a request
    that never started."""
    if stream is None:
        return TokenUsage(input_tokens=0, output_tokens=0), False
    if stream.usage is not None:
        return stream.usage, False
    return estimate_chat_usage(request.messages, text, model=request.model), True


def _context_of(message: Message) -> ContextMessage:
    return ContextMessage(id=message.id, role=message.role, content=message.content)


def _usage_status(status: MessageStatus, error: ProviderError | None) -> UsageStatus:
    if isinstance(error, ProviderRateLimited):
        return "rate_limited"
    if status == "complete":
        return "ok"
    return "interrupted" if status == "interrupted" else "error"
