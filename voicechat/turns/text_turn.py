"""A started text turn: the reply streamed (through any tool rounds), then stored with its usage.

The reply is stored however the stream ends (complete, cut by a provider failure, or abandoned by the page),
so nothing the user said is ever lost; each chat call and each tool call is billed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace

from voicechat import defaults
from voicechat.config import Settings
from voicechat.errors import ProviderError, ProviderRequestError
from voicechat.models import ContextMessage, Conversation, Message, MessageStatus, ToolStep, TurnMetrics, User
from voicechat.providers.base import LLM, ChatMessage, ChatRequest, ChatStream, ToolCall, elapsed_ms
from voicechat.storage.store import Store
from voicechat.tools.earlier_calls import arguments_of, call_id, kept_steps, result_of
from voicechat.tools.runner import tool_usage
from voicechat.turns.chat_usage import chat_usage
from voicechat.turns.held_answer import HeldAnswer, settle
from voicechat.turns.tool_rounds import ToolRounds, system_note
from voicechat.turns.writer import MessageMeta, TurnWriter
from voicechat.usage import Usage

log = logging.getLogger(__name__)
_REFUSES_TOOLS: set[tuple[str, str]] = set()  # (provider, model) whose server refused a request with tools


@dataclass(frozen=True)
class TurnOptions:
    """What the user chose for this turn."""

    model: str
    system_prompt: str
    timezone: str | None = None  # the browser's, for the time tool


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
        tools: ToolRounds | None = None,
        held: HeldAnswer | None = None,
    ) -> None:
        """``handover``: the caller stores the reply itself (a Talk turn keeps what was heard) and takes the
        chat call's usage through it; by default the turn stores both. ``tools``: what the model may call.
        ``held``: the user's answer to a call held in an earlier turn, settled before the model is asked."""
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
        self.tools = tools
        self._held = held
        self.reply: Message | None = None

    def stream_reply(self) -> Generator[str, None, None]:
        """Yield the reply as it streams (through any tool rounds). Raises ProviderError after storing
        whatever arrived."""
        messages = [self._system_message(), *self._history()]
        parts: list[str] = []
        status: MessageStatus = "interrupted"  # if the page abandons the generator
        error: ProviderError | None = None
        started = time.perf_counter()
        first_token_ms: float | None = None
        try:
            settled = yield from self._settle_held(messages, parts)
            if settled is not None:
                status = settled
                return  # asked once more (the model is not asked), or a drafted reply dropped
            for round_number in range(defaults.TOOL_ROUNDS + 1):
                # A held call ends the model's turn: the next round has no tools and words the question.
                tools = (
                    self.tools is not None and round_number < defaults.TOOL_ROUNDS and not self.tools.holding
                )
                request = self._request(messages, with_tools=tools)
                stream: ChatStream | None = None
                said: list[str] = []
                ended = False
                try:
                    stream, request = self._open(request)
                    with stream:
                        for delta in stream:
                            first_token_ms = first_token_ms or elapsed_ms(started)
                            said.append(delta)
                            parts.append(delta)
                            yield delta
                    ended = True
                except ProviderError as exc:
                    status, error = "failed", exc
                    raise
                finally:
                    ended_as: MessageStatus = "failed" if error else "complete" if ended else "interrupted"
                    self._bill_round(
                        stream,
                        request,
                        "".join(said),
                        status=ended_as,
                        error=error,
                        follow_up=round_number > 0,
                    )
                calls = stream.tool_calls if tools else ()
                if not calls or self.tools is None:
                    break
                for item in self.tools.run(calls, "".join(said)):
                    if isinstance(item, str):
                        parts.append(item)
                        yield item
                    else:
                        messages.append(item)
                if messages[-1].role != "tool":
                    return  # a drafted reply dropped while its calls waited for the turn
            status = "complete"
        finally:
            self.metrics = TurnMetrics(first_token_ms=first_token_ms, total_ms=elapsed_ms(started))
            self._finish("".join(parts).strip() if self.tools else "".join(parts), status=status, error=error)

    def _settle_held(
        self, messages: list[ChatMessage], parts: list[str]
    ) -> Generator[str, None, MessageStatus | None]:
        """Settle the call held in an earlier turn, if this turn answers one: its messages join
        ``messages``; the question asked once more is yielded. How the reply ended if it ends here."""
        if self._held is None:
            return None
        asked = False
        for item in settle(self._store, self.tools, self._held):
            if isinstance(item, str):
                asked = True
                parts.append(item)
                yield item
            else:
                messages.append(item)
        if asked:
            return "complete"
        return "interrupted" if self.tools is not None and self.tools.dropped else None

    def abandon_tools(self) -> None:
        """Stop waiting for tools still running (the reply was cut; thread-safe): the reply ends now, and a
        call that finishes later is still billed."""
        if self.tools is not None:
            self.tools.abandon(lambda step: self._bill(tool_usage(step)))

    @property
    def tool_steps(self) -> tuple[ToolStep, ...]:
        """The tool calls made so far for this reply."""
        return tuple(self.tools.steps) if self.tools is not None else ()

    def _system_message(self) -> ChatMessage:
        prompt = self._options.system_prompt
        if self.tools is not None:
            prompt += system_note(self._store.users.memory(self._user.id))
        return ChatMessage(role="system", content=prompt)

    def _history(self) -> list[ChatMessage]:
        """The context as chat messages: each reply after the calls it made and their results (when the
        model may call tools; the oldest results drop first)."""
        kept = kept_steps(self._context) if self.tools is not None else {}
        history: list[ChatMessage] = []
        for m in self._context:
            if steps := kept.get(m.id):
                calls = tuple(
                    ToolCall(id=call_id(m.id, i), name=s.name, arguments=arguments_of(s))
                    for i, s in enumerate(steps)
                )
                history.append(ChatMessage(role="assistant", content="", tool_calls=calls))
                history += [
                    ChatMessage(role="tool", content=result_of(s), tool_call_id=c.id)
                    for s, c in zip(steps, calls, strict=True)
                ]
            # A reply cut off before a word was heard is stored empty; as context it teaches the model to
            # say nothing (a small local model then answers every question with silence).
            if m.content.strip():
                history.append(ChatMessage(role=m.role, content=m.content))
        return history

    def _open(self, request: ChatRequest) -> tuple[ChatStream, ChatRequest]:
        """Start the chat call. A server that refuses the request with tools (an OpenAI-compatible one whose
        model cannot call them, such as many Ollama models) is asked again without, and not offered tools
        again for that model in this process."""
        try:
            return self._llm.stream_chat(request), request
        except ProviderRequestError:
            if not request.tools:
                raise
        _REFUSES_TOOLS.add((self._llm.provider, request.model))
        log.warning("the chat model refused tools; asking again without them")
        plain = replace(request, tools=())
        return self._llm.stream_chat(plain), plain

    def _request(self, messages: list[ChatMessage], *, with_tools: bool) -> ChatRequest:
        refused = (self._llm.provider, self._options.model) in _REFUSES_TOOLS
        return ChatRequest(
            messages=tuple(messages),
            model=self._options.model,
            temperature=self._settings.temperature,
            max_output_tokens=self._settings.max_output_tokens,
            tools=self.tools.box.specs if with_tools and self.tools is not None and not refused else (),
        )

    def _bill_round(
        self,
        stream: ChatStream | None,
        request: ChatRequest,
        text: str,
        *,
        status: MessageStatus,
        error: ProviderError | None,
        follow_up: bool,
    ) -> None:
        """Bill one chat call of the turn (a reply with tools makes several); an abandoned stream is billed
        as interrupted, with what it produced."""
        self._bill(
            chat_usage(
                self._llm.provider,
                stream,
                request,
                text,
                status=status,
                error=error,
                prices=self._settings.chat_price_table,
                follow_up=follow_up,
            )
        )

    def _finish(self, text: str, *, status: MessageStatus, error: ProviderError | None) -> None:
        for step in self.tool_steps:
            self._bill(tool_usage(step))
        self.status, self.error = status, error
        conversation_id = self.conversation.id
        if self._handover is None and (text or status == "complete"):
            error_mark = type(error).__name__ if error else None
            meta = MessageMeta(
                status=status,
                model=self._options.model,
                error=error_mark,
                metrics=self.metrics,
                tool_steps=self.tool_steps,
            )
            self.reply = self._writer.reply(conversation_id, text, meta)
            if status != "failed":
                self._store.context.extend(conversation_id, self._context, _context_of(self.reply))
        log.info(
            "turn finished conversation=%s status=%s tools=%d first_token_ms=%s",
            conversation_id,
            status,
            len(self.tool_steps),
            self.metrics.first_token_ms,
        )

    def _bill(self, usage: Usage) -> None:
        if self._handover is not None:
            self._handover(usage)
        else:
            self._writer.bill(usage, self.conversation.id)


def _context_of(message: Message) -> ContextMessage:
    return ContextMessage.of(message)
