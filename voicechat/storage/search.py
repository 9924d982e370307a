"""Portable full-text search over a user's messages.

SecantusDB cannot build text indexes and scans for ``$all``/``$regex`` (see shared/FINDINGS.md), so each
message stores its normalised terms in an array indexed with its owner; a query looks each term up by
equality (an index hit on any MongoDB-compatible server) and intersects the candidate sets here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from bson import ObjectId

from voicechat import defaults
from voicechat.models import SearchHit, ToolStep
from voicechat.storage.database import Database, Document, parse_id

_WORD = re.compile(r"\w+")
MAX_TERMS_PER_MESSAGE = 400
MAX_QUERY_TERMS = 6
SNIPPET_CHARS = 160


def terms_of(text: str, *, limit: int = MAX_TERMS_PER_MESSAGE) -> list[str]:
    """Distinct search terms of ``text``: lower-case, accents folded, words of two characters or more."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(char for char in folded if not unicodedata.combining(char))
    seen: dict[str, None] = {}
    for word in _WORD.findall(folded):
        if len(word) >= 2 and len(word) <= defaults.MAX_WORD_CHARS:
            seen.setdefault(word, None)
            if len(seen) >= limit:
                break
    return list(seen)


def searchable(content: str | None, tool_steps: tuple[ToolStep, ...] | None) -> str:
    """The text a message is found by: its words and its tool calls (name, arguments, result)."""
    steps = " ".join(f"{s.name.replace('_', ' ')} {s.arguments} {s.result}" for s in tool_steps or ())
    return f"{content or ''} {steps}"


class MessageSearch:
    """Finds a user's messages that contain every word of a query, newest first."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def search(self, *, owner_id: str, query: str, limit: int = defaults.SEARCH_RESULTS) -> list[SearchHit]:
        """Messages of ``owner_id`` containing all the query's words (at most ``limit``), newest first."""
        owner = parse_id(owner_id)
        terms = terms_of(query, limit=MAX_QUERY_TERMS)
        if not terms:
            return []
        candidates: set[ObjectId] | None = None
        for term in terms:
            ids = self._ids_with_term(owner, term)
            candidates = ids if candidates is None else candidates & ids
            if not candidates:
                return []
        newest = sorted(candidates or (), reverse=True)[:limit]  # ObjectIds grow with time
        docs = self._db.run(
            lambda db: list(
                db.messages.find(
                    {"_id": {"$in": newest}, "owner_id": owner},
                    {"conversation_id": 1, "role": 1, "content": 1, "created_at": 1},
                )
            )
        )
        live = self._live_conversations(owner, {doc["conversation_id"] for doc in docs})
        docs = sorted((d for d in docs if d["conversation_id"] in live), key=lambda d: d["_id"], reverse=True)
        return [_to_hit(doc, terms) for doc in docs]

    def _live_conversations(self, owner_id: ObjectId, ids: set[ObjectId]) -> set[ObjectId]:
        # A conversation being deleted has lost its owner already (its messages go a moment later).
        query: Document = {"_id": {"$in": list(ids)}, "owner_id": owner_id}
        return {d["_id"] for d in self._db.run(lambda db: list(db.conversations.find(query, {"_id": 1})))}

    def _ids_with_term(self, owner_id: ObjectId, term: str) -> set[ObjectId]:
        # Equality on (owner_id, terms) only: adding an ``_id $in`` filter made the embedded server scan
        # (2.6 s on 20,000 messages against 7-25 ms), so candidate sets are intersected here instead.
        query: Document = {"owner_id": owner_id, "terms": term}
        return self._db.run(
            lambda db: {
                doc["_id"]
                for doc in db.messages.find(query, {"_id": 1}).limit(defaults.SEARCH_CANDIDATES_PER_TERM)
            }
        )


def _to_hit(doc: Document, terms: Iterable[str]) -> SearchHit:
    return SearchHit(
        message_id=str(doc["_id"]),
        conversation_id=str(doc["conversation_id"]),
        role=doc["role"],
        snippet=snippet(doc["content"], terms),
        created_at=doc["created_at"],
    )


def snippet(content: str, terms: Iterable[str], *, width: int = SNIPPET_CHARS) -> str:
    """A window of ``content`` around the first matching term, with ellipses where cut."""
    lowered = content.casefold()
    positions = [pos for pos in (lowered.find(term) for term in terms) if pos >= 0]
    start = max(0, min(positions, default=0) - width // 3)
    end = min(len(content), start + width)
    text = " ".join(content[start:end].split())
    return ("…" if start > 0 else "") + text + ("…" if end < len(content) else "")
