"""The storage layer assembled from settings: MongoDB (given or embedded), the repositories, the cache."""

from __future__ import annotations

import atexit
from dataclasses import dataclass

from voicechat.config import Settings
from voicechat.storage.audio import AudioStore
from voicechat.storage.cache import ContextCache, MemoryContextCache, RedisContextCache
from voicechat.storage.context import ContextStore
from voicechat.storage.conversations import ConversationRepository
from voicechat.storage.database import Database
from voicechat.storage.embedded import EmbeddedMongo
from voicechat.storage.feedback import FeedbackRepository
from voicechat.storage.held_calls import HeldCallRepository
from voicechat.storage.refusals import RefusalRepository
from voicechat.storage.search import MessageSearch
from voicechat.storage.tool_state import ToolStateRepository
from voicechat.storage.turn_latency import TurnLatencyRepository
from voicechat.storage.usage_events import UsageRepository
from voicechat.storage.users import UserRepository, migrate_users


@dataclass(frozen=True)
class Store:
    """Every repository over one database connection. Thread-safe (pymongo and redis clients are)."""

    db: Database
    users: UserRepository
    conversations: ConversationRepository
    usage: UsageRepository
    search: MessageSearch
    context: ContextStore
    audio: AudioStore
    refusals: RefusalRepository
    turn_latency: TurnLatencyRepository
    tools: ToolStateRepository
    feedback: FeedbackRepository
    held_calls: HeldCallRepository
    embedded: EmbeddedMongo | None = None

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """Connect as configured: MONGODB_URI or the embedded server; REDIS_URL or an in-process cache."""
        embedded: EmbeddedMongo | None = None
        if settings.mongodb_uri:
            db = Database.connect(settings.mongodb_uri)
        else:
            embedded = EmbeddedMongo(settings.data_dir)
            db = Database.connect(embedded.attach(), recover=embedded.ensure_running)
            atexit.register(embedded.detach)
        migrate_users(db)
        db.ensure_indexes()
        cache: ContextCache = (
            RedisContextCache.from_url(settings.redis_url) if settings.redis_url else MemoryContextCache()
        )
        store = cls.over(db, cache=cache, context_size=settings.context_messages, embedded=embedded)
        store.finish_deletes()
        return store

    @classmethod
    def over(
        cls, db: Database, *, cache: ContextCache, context_size: int, embedded: EmbeddedMongo | None = None
    ) -> Store:
        """Assemble the repositories over an open database (tests use this with their own servers)."""
        conversations = ConversationRepository(db)
        return cls(
            db=db,
            users=UserRepository(db),
            conversations=conversations,
            usage=UsageRepository(db),
            search=MessageSearch(db),
            context=ContextStore(conversations=conversations, cache=cache, size=context_size),
            audio=AudioStore(db),
            refusals=RefusalRepository(db),
            turn_latency=TurnLatencyRepository(db),
            tools=ToolStateRepository(db),
            feedback=FeedbackRepository(db),
            held_calls=HeldCallRepository(db),
            embedded=embedded,
        )

    def delete_conversation(self, *, owner_id: str, conversation_id: str) -> None:
        """Delete a conversation with its messages, their audio and its cached context (usage is kept).

        A tombstone first (from then on nothing can reach it or write into it), then the sweep; a crash in
        between leaves nothing reachable, and ``finish_deletes`` completes the sweep at the next start.
        """
        deleted = self.conversations.mark_deleted(owner_id=owner_id, conversation_id=conversation_id)
        self.context.forget(deleted)
        self.conversations.sweep(deleted, delete_audio=self.audio.delete_for_conversation)

    def finish_deletes(self) -> int:
        """Complete deletes a crash cut short; returns how many conversations were swept."""
        pending = self.conversations.tombstoned()
        for conversation_id in pending:
            self.conversations.sweep(conversation_id, delete_audio=self.audio.delete_for_conversation)
        return len(pending)

    def close(self) -> None:
        """Close connections and, for the embedded server, stop counting this process as a user."""
        self.context.close()
        self.db.close()
        if self.embedded is not None:
            self.embedded.detach()
