"""One text turn: validate, store the user's message, stream the reply, store the reply and its usage.

The user's message is stored before any provider is called, and the reply is stored however the stream ends
(complete, cut by a provider failure, or abandoned by the page), so nothing the user said is ever lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from voicechat.config import Settings
from voicechat.errors import InvalidInput
from voicechat.models import (
    ContextMessage,
    Conversation,
    Message,
    ToolStep,
    User,
)
from voicechat.providers.base import LLM
from voicechat.providers.chat_factory import offered_chat_models
from voicechat.storage.conversations import title_from
from voicechat.storage.documents import MessageChange
from voicechat.storage.store import Store
from voicechat.tokens import warm_up
from voicechat.tools.catalog import toolbox_for
from voicechat.tools.confirmation import Verdict
from voicechat.tools.runner import ToolBox
from voicechat.turns.held_answer import held_answer
from voicechat.turns.text_turn import TextTurn, TurnOptions
from voicechat.turns.tool_rounds import AheadGate, ToolRounds, ToolWatch, system_note
from voicechat.usage import Usage
from voicechat.validation import clean_message_text, clean_system_prompt

__all__ = ["DRAFT_ID", "ChatService", "TextTurn", "TurnOptions"]
DRAFT_ID = "draft"  # the id of the not-yet-stored user message a drafted reply answers


class ChatService:
    """Starts text turns for a user. Stateless apart from its collaborators; safe to share."""

    def __init__(self, *, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        warm_up()  # the tokeniser that prices replies cut short

    def begin_text_turn(
        self,
        *,
        user: User,
        conversation_id: str | None,
        text: object,
        options: TurnOptions,
        llm: LLM,
        watch: ToolWatch | None = None,
        pressed: Verdict | None = None,
        seen: ToolStep | None = None,
    ) -> TextTurn:
        """Validate and store the user's message; return the turn whose reply the page streams.
        ``pressed``: the user pressed Yes or No under the held call ``seen`` (the message says so).

        Raises InvalidInput (nothing stored, no provider called) or NotFound (foreign / malformed id).
        """
        content = clean_message_text(text, max_chars=self._settings.max_message_chars)
        conversation, options = self.open_conversation(
            user=user, conversation_id=conversation_id, options=options, title=title_from(content)
        )
        context = self._store.context.load(conversation)
        message = self._store.conversations.add_message(
            owner_id=user.id,
            conversation_id=conversation.id,
            role="user",
            content=content,
            owner_checked=True,
        )
        return self.reply_to(
            user=user,
            conversation=conversation,
            message=message,
            context=context,
            options=options,
            llm=llm,
            watch=watch,
            pressed=pressed,
            seen=seen,
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
        return conversation, replace(options, system_prompt=system_prompt)

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
        watch: ToolWatch | None = None,
        pressed: Verdict | None = None,
        seen: ToolStep | None = None,
        settles: bool = True,
    ) -> TextTurn:
        """The turn answering ``message`` (already stored), given the context loaded before it was added;
        ``handover`` as for ``TextTurn``, ``watch`` hears about its tools; ``pressed``/``seen`` as for
        ``begin_text_turn``; without ``settles`` (regenerate, which dropped any held call) nothing held is
        settled and a call that changes anything is held."""
        context = self._store.context.extend(conversation.id, context, _context_of(message))
        turn_id = uuid.uuid4().hex
        held = (
            held_answer(
                self._store,
                owner_id=user.id,
                conversation_id=conversation.id,
                text=message.content,
                turn_id=turn_id,
                pressed=pressed,
                seen=seen,
            )
            if settles
            else None
        )
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
            tools=self._tools(
                user, conversation.id, options, message.content, turn_id, watch=watch, again=not settles
            ),
            held=held,
        )

    def regenerate(
        self,
        *,
        user: User,
        conversation_id: str,
        options: TurnOptions,
        llm: LLM,
        watch: ToolWatch | None = None,
    ) -> TextTurn:
        """A new reply to the conversation's last question. The reply it replaces is kept for the record,
        marked replaced (no longer shown nor sent as context). Raises InvalidInput when the conversation does
        not end with a reply, NotFound when it is not the user's."""
        conversation, options = self.open_conversation(
            user=user, conversation_id=conversation_id, options=options, title=""
        )
        last = self._store.conversations.messages_page(
            owner_id=user.id, conversation_id=conversation.id, limit=2
        )
        if len(last.items) < 2 or (last.items[-2].role, last.items[-1].role) != ("user", "assistant"):
            raise InvalidInput("There is no reply to regenerate yet.")
        question, replaced = last.items[-2], last.items[-1]
        self._store.conversations.amend_message(
            owner_id=user.id, message_id=replaced.id, change=MessageChange(status="replaced")
        )
        self._store.context.forget(conversation.id)
        # Regenerate never runs a side-effecting call again, and drops one waiting for an answer.
        self._store.held_calls.drop(owner_id=user.id, conversation_id=conversation.id)
        before = [m for m in self._store.context.load(conversation) if m.id != question.id]
        return self.reply_to(
            user=user,
            conversation=conversation,
            message=question,
            context=before,
            options=options,
            llm=llm,
            watch=watch,
            settles=False,
        )

    def toolbox(
        self,
        *,
        user: User,
        conversation_id: str,
        options: TurnOptions,
        said: str,
        turn_id: str,
        confirm_by_call: bool = True,
    ) -> ToolBox | None:
        """The tools a speech-to-speech engine offers its model, and runs when it calls them (None: none),
        in turn ``turn_id`` where the user said ``said``. With ``confirm_by_call`` (speech-to-speech
        engines) the model's repeated call runs a held one on the user's clear yes in a later turn."""
        return toolbox_for(
            self._settings,
            self._store,
            user=user,
            conversation_id=conversation_id,
            model=options.model,
            timezone=options.timezone,
            user_said=said,
            turn_id=turn_id,
            confirm_by_call=confirm_by_call,
        )

    def tool_instructions(self, user: User) -> str:
        """What a model that calls tools is told besides its persona (the data rule, remembered facts)."""
        return system_note(self._store.users.memory(user.id))

    def _tools(
        self,
        user: User,
        conversation_id: str,
        options: TurnOptions,
        said: str,
        turn_id: str,
        *,
        watch: ToolWatch | None,
        gate: AheadGate | None = None,
        again: bool = False,
    ) -> ToolRounds | None:
        """The tools of a turn; ``again`` (regenerate): a call that changes anything is held for the
        user's yes, so answering again never repeats what the first answer did."""
        box = self.toolbox(
            user=user,
            conversation_id=conversation_id,
            options=options,
            said=said,
            turn_id=turn_id,
            confirm_by_call=False,
        )
        if box is not None and again:
            changing = frozenset(tool.name for tool in box.tools if not tool.read_only)
            box = replace(box, confirm_first=box.confirm_first | changing)
        return None if box is None else ToolRounds(box, watch or ToolWatch(), gate)

    def answer(
        self,
        *,
        user: User,
        message: Message,
        options: TurnOptions,
        llm: LLM,
        billing: Callable[[Usage], None],
        watch: ToolWatch | None = None,
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
            watch=watch,
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
        watch: ToolWatch | None = None,
        gate: AheadGate | None = None,
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
        turn_id = uuid.uuid4().hex
        held = held_answer(
            self._store, owner_id=user.id, conversation_id=conversation.id, text=text, turn_id=turn_id
        )
        tools = self._tools(
            user, conversation.id, options, text, turn_id, watch=watch, gate=gate or AheadGate()
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
            tools=tools,
            held=held,
        )


def _context_of(message: Message) -> ContextMessage:
    return ContextMessage.of(message)
