"""Thumbs up or down on a reply, with an optional comment: stored on the message, summed for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from voicechat import defaults
from voicechat.errors import NotFound
from voicechat.models import Rating
from voicechat.storage.database import Database, Document, parse_id
from voicechat.validation import clean_message_text

COMMENT_CHARS = 500
NEGATIVE_SHOWN = 5


@dataclass(frozen=True)
class NegativeComment:
    """A thumbs-down with words, for the dashboard (the user's own words about a reply)."""

    at: datetime
    comment: str
    conversation_id: str
    user_id: str


@dataclass(frozen=True)
class FeedbackSummary:
    """Ratings given over a date range, and the latest thumbs-down comments."""

    up: int
    down: int
    negatives: list[NegativeComment]


class FeedbackRepository:
    """Ratings on replies: only the reply's owner rates it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def rate(
        self, *, owner_id: str, message_id: str, rating: Rating | None, comment: str | None = None
    ) -> None:
        """Set (or with ``rating`` None take back) the owner's rating of a reply. Raises NotFound (not theirs,
        not a reply) or InvalidInput (a comment too long)."""
        words = clean_message_text(comment, max_chars=COMMENT_CHARS) if comment and comment.strip() else None
        query: Document = {"_id": parse_id(message_id), "owner_id": parse_id(owner_id), "role": "assistant"}
        change: Document = (
            {"$set": {"feedback": {"rating": rating, "comment": words, "at": datetime.now(UTC)}}}
            if rating is not None
            else {"$unset": {"feedback": ""}}
        )
        if self._db.run(lambda db: db.messages.update_one(query, change)).matched_count == 0:
            raise NotFound("That reply was not found.")

    def summary(self, *, start: date, end: date, user_id: str | None = None) -> FeedbackSummary:
        """Ratings given from ``start`` to ``end`` inclusive (one user's, or everyone's)."""
        since = datetime.combine(start, time(), tzinfo=UTC)
        until = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
        query: Document = {"feedback.at": {"$gte": since, "$lt": until}}
        if user_id:
            query["owner_id"] = parse_id(user_id)
        fields = {"feedback": 1, "conversation_id": 1, "owner_id": 1}
        docs = self._db.run(
            lambda db: list(db.messages.find(query, fields).limit(defaults.FEEDBACK_SCAN_LIMIT))
        )
        ratings = [d["feedback"]["rating"] for d in docs]
        negatives = sorted(
            (
                NegativeComment(
                    d["feedback"]["at"],
                    d["feedback"]["comment"],
                    str(d["conversation_id"]),
                    str(d["owner_id"]),
                )
                for d in docs
                if d["feedback"]["rating"] == "down" and d["feedback"].get("comment")
            ),
            key=lambda n: n.at,
            reverse=True,
        )
        return FeedbackSummary(ratings.count("up"), ratings.count("down"), negatives[:NEGATIVE_SHOWN])
