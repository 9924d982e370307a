"""The built-in tools, on by default, each small and safe: the time, searching past conversations, and a
per-user memory the user can see and edit."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voicechat.errors import InvalidInput
from voicechat.tools.spec import BUILT_IN, Tool, ToolContext, no_parameters

SEARCH_RESULTS = 5


class CurrentTime(Tool):
    """The date and time in the user's time zone (the browser's, when it told us)."""

    def __init__(self) -> None:
        super().__init__(
            name="current_time",
            description="The current date and time in the user's time zone.",
            parameters=no_parameters(),
            read_only=True,
            source=BUILT_IN,
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """See ``Tool.run``."""
        zone = _zone(context.timezone)
        now = datetime.now(UTC).astimezone(zone)
        return f"{now:%A %d %B %Y, %H:%M} ({zone.key}, UTC{now:%z})"


class SearchConversations(Tool):
    """The user's own past messages containing every word of a query: title, date, excerpt, link."""

    def __init__(self) -> None:
        super().__init__(
            name="search_conversations",
            description=(
                "Search the user's past conversations with you for messages containing all the given words. "
                "Returns titles, dates, short excerpts and links (/?c=<id>)."
            ),
            parameters={
                "type": "object",
                "properties": {"query": {"type": "string", "description": "the words to look for"}},
                "required": ["query"],
                "additionalProperties": False,
            },
            read_only=True,
            source=BUILT_IN,
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """See ``Tool.run``."""
        query = _text(arguments, "query")
        store, owner = context.store, context.user.id
        hits = store.search.search(owner_id=owner, query=query, limit=SEARCH_RESULTS + 1)
        hits = [h for h in hits if h.conversation_id != context.conversation_id][:SEARCH_RESULTS]
        if not hits:
            return f"No past conversation mentions {query!r}."
        titles = store.conversations.titles(owner_id=owner, ids={h.conversation_id for h in hits})
        lines = [
            f"- {titles.get(h.conversation_id, 'Conversation')} ({h.created_at:%Y-%m-%d}, "
            f'link /?c={h.conversation_id}): {h.role} said "{h.snippet}"'
            for h in hits
        ]
        return "\n".join(lines)


class Remember(Tool):
    """Keeps a fact the user asked to be remembered (shown and editable on the preferences page)."""

    def __init__(self) -> None:
        super().__init__(
            name="remember",
            description="Remember a short fact about the user for later conversations, when they ask you to.",
            parameters={
                "type": "object",
                "properties": {"fact": {"type": "string", "description": "the fact, in one short sentence"}},
                "required": ["fact"],
                "additionalProperties": False,
            },
            read_only=False,
            source=BUILT_IN,
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """See ``Tool.run``. Only a fact the user's own words in this turn state is kept: a tool result or
        a document cannot change what every later conversation is told."""
        fact = _text(arguments, "fact")
        if not stated_by_user(fact, context.user_said):
            raise InvalidInput(
                "Not remembered: a fact is kept only when the user states it in their own words in this "
                "turn. Ask them whether they want it remembered."
            )
        facts = context.store.users.remember(context.user.id, fact)
        return f"Remembered. You now know {len(facts)} fact(s) about the user."


class Forget(Tool):
    """Forgets remembered facts containing the given words."""

    def __init__(self) -> None:
        super().__init__(
            name="forget",
            description="Forget what you remembered about the user that contains the given words.",
            parameters={
                "type": "object",
                "properties": {"about": {"type": "string", "description": "words of the fact to forget"}},
                "required": ["about"],
                "additionalProperties": False,
            },
            read_only=False,
            source=BUILT_IN,
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """See ``Tool.run``. Only when the user's own words in this turn ask to forget it."""
        about = _text(arguments, "about")
        if not stated_by_user(about, context.user_said, asks=ASKS_TO_FORGET):
            raise InvalidInput(
                "Not forgotten: a fact is forgotten only when the user asks for it in their own words in "
                "this turn."
            )
        removed = context.store.users.forget(context.user.id, about)
        return f"Forgot {removed} fact(s)." if removed else "Nothing remembered matches that."


_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# Words a fact about the user may add to what they said ("The user's favourite colour is teal").
_FRAME = frozenset(
    {
        "the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "is", "are", "was", "were",
        "be", "been", "am", "has", "have", "had", "user", "user's", "users", "their", "they", "them", "he",
        "she", "his", "her", "my", "me", "i", "i'm", "im", "you", "your", "that", "this", "it", "its",
        "with", "as", "by", "about", "likes", "like", "s",
    }
)  # fmt: skip
STEM = 5  # letters two words must share to count as the same word ("favourite" ~ "favourites")


ASKS_TO_KEEP = re.compile(
    r"\b(remember|memori[sz]e|keep in mind|don'?t forget|note (that|down|this)|make a note"
    r"|save (that|this))\b",
    re.IGNORECASE,
)
ASKS_TO_FORGET = re.compile(r"\b(forget|delete|remove|erase|drop)\b", re.IGNORECASE)
_NEGATIONS = frozenset(
    {"not", "never", "no", "don't", "dont", "doesn't", "isn't", "won't", "can't", "cannot"}
)


def stated_by_user(fact: str, said: str, *, asks: re.Pattern[str] = ASKS_TO_KEEP) -> bool:
    """Whether the user's words ``said`` ask for it (``asks``) and state ``fact``: its content words appear
    in them in the same order, and a negation in either is in both (a tool result or a document cannot
    change what every later conversation is told)."""
    if not asks.search(said):
        return False
    said_words = _WORD.findall(said.lower().replace("\u2019", "'"))
    fact_words = _WORD.findall(fact.lower().replace("\u2019", "'"))
    content = [w[:STEM] for w in fact_words if w not in _FRAME]
    heard = iter(w[:STEM] for w in said_words)
    in_order = all(word in heard for word in content)  # consumes the iterator: a subsequence
    return bool(content) and in_order and _negated(said_words) == _negated(fact_words)


def _negated(words: list[str]) -> bool:
    return any(w in _NEGATIONS or w.endswith("n't") for w in words)


def built_in_tools() -> list[Tool]:
    """Every built-in tool."""
    return [CurrentTime(), SearchConversations(), Remember(), Forget()]


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _text(arguments: dict[str, Any], key: str) -> str:
    value = arguments.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"'{key}' must be a non-empty string.")
    return value.strip()
