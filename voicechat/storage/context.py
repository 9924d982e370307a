"""Conversation context for the model: read through the hot cache, rebuilt from MongoDB when stale."""

from __future__ import annotations

from voicechat.models import ContextMessage, Conversation
from voicechat.storage.cache import CachedContext, ContextCache
from voicechat.storage.conversations import ConversationRepository


class ContextStore:
    """The last ``size`` messages of a conversation, kept hot in a cache and validated against MongoDB."""

    def __init__(self, *, conversations: ConversationRepository, cache: ContextCache, size: int) -> None:
        self._conversations = conversations
        self._cache = cache
        self._size = size

    def load(self, conversation: Conversation) -> list[ContextMessage]:
        """The context of ``conversation`` (ownership was checked when it was read)."""
        cached = self._cache.get(conversation.id)
        if cached is not None and cached.head_id == conversation.last_message_id:
            return list(cached.messages)
        messages = self._conversations.recent_context(conversation_id=conversation.id, limit=self._size)
        self._cache.put(
            conversation.id, CachedContext(head_id=conversation.last_message_id, messages=tuple(messages))
        )
        return messages

    def extend(
        self, conversation_id: str, context: list[ContextMessage], message: ContextMessage
    ) -> list[ContextMessage]:
        """``context`` with ``message`` appended (and trimmed); the cache is updated to match."""
        updated = [*context, message][-self._size :]
        self._cache.put(conversation_id, CachedContext(head_id=message.id, messages=tuple(updated)))
        return updated

    def forget(self, conversation_id: str) -> None:
        """Drop a conversation's cached context (after deletion)."""
        self._cache.delete(conversation_id)

    def close(self) -> None:
        """Release the cache's connections."""
        self._cache.close()
