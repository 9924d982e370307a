"""A turn that answers a confirm-first call held in an earlier turn: settled before the model is asked.

The user's Yes (the button, or words the judge finds a clear yes) runs the held call exactly once, exactly as
held, without asking the model again; its result goes to the model as the next step of the conversation. A
No declines it; an unclear answer is asked once more (never run); anything else is a new question, which
drops it. A turn never settles a call it held itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from voicechat import defaults
from voicechat.models import ToolStep
from voicechat.providers.base import ChatMessage, ToolCall
from voicechat.storage.held_calls import HeldCall
from voicechat.storage.store import Store
from voicechat.tools.confirmation import Verdict, judge
from voicechat.tools.spec import ToolOutcome
from voicechat.turns.tool_rounds import ToolRounds

ASK_AGAIN = "I haven't done it yet. Shall I go ahead? Please answer yes or no."


@dataclass(frozen=True)
class HeldAnswer:
    """What the user's turn says to the call waiting in the conversation."""

    held: HeldCall
    verdict: Verdict


def held_answer(
    store: Store,
    *,
    owner_id: str,
    conversation_id: str,
    text: str,
    turn_id: str,
    pressed: Verdict | None = None,
    seen: ToolStep | None = None,
) -> HeldAnswer | None:
    """The answer ``text`` (or the button ``pressed`` under the step the user ``seen``) gives the call
    waiting in the conversation; None when none waits (or it is this turn's own, or the button was pressed
    under another call than the one waiting now)."""
    held = store.held_calls.waiting(owner_id=owner_id, conversation_id=conversation_id)
    if held is None or held.turn_id == turn_id:
        return None
    if pressed is not None:
        shown = seen is not None and (seen.name, seen.arguments) == (
            held.name,
            held.arguments[: defaults.TOOL_ARGUMENTS_CHARS],
        )
        return HeldAnswer(held, pressed) if shown else None
    return HeldAnswer(held, judge(text))


def settle(store: Store, rounds: ToolRounds | None, answer: HeldAnswer) -> Iterator[str | ChatMessage]:
    """Settle the held call: yields the messages that continue the conversation (the call and its result),
    or, for an unclear answer asked once more, the question to say (and then the model is not asked).
    Waits first for a drafted reply's turn to be confirmed; yields nothing if the draft is dropped."""
    held_calls = store.held_calls
    if rounds is not None and rounds.gate is not None and not rounds.gate.wait():
        return
    held, verdict = answer.held, answer.verdict
    if rounds is None:  # tools are off now: nothing can run it
        held_calls.drop(owner_id=held.owner_id, conversation_id=held.conversation_id)
        return
    if verdict == "unclear" and held_calls.ask_again(held):
        rounds.record(rounds.box.still_held(held))
        yield ASK_AGAIN
        return
    if verdict == "other":
        held_calls.drop(owner_id=held.owner_id, conversation_id=held.conversation_id)
        return
    taken = held_calls.take(held)
    if taken is None:  # answered meanwhile elsewhere, or expired: the model sees the user's words only
        return
    call = ToolCall(id=f"held-{taken.id[:12]}", name=taken.name, arguments=taken.arguments)
    if verdict == "yes":
        rounds.watch.started(call)
        outcome: ToolOutcome = rounds.box.run_held(taken, call.id)
    else:  # no, or unclear twice
        outcome = rounds.box.declined(taken, call.id)
    rounds.record(outcome)
    yield ChatMessage(role="assistant", content="", tool_calls=(call,))
    yield ChatMessage(role="tool", content=outcome.content, tool_call_id=outcome.call_id)


def heard_in_call(store: Store, *, owner_id: str, conversation_id: str, said: str, utterance: str) -> None:
    """A speech-to-speech call's user said ``said`` (utterance ``utterance``): the first utterance after a
    hold answers it. Anything but a clear yes drops it; a yes lets only this utterance's reply run it (the
    model calls it again, with the same arguments); any later utterance drops it."""
    held = store.held_calls.waiting(owner_id=owner_id, conversation_id=conversation_id)
    if held is None or held.turn_id == utterance:
        return
    if judge(said) != "yes" or not store.held_calls.answered_by(held, utterance):
        store.held_calls.drop(owner_id=owner_id, conversation_id=conversation_id)
