"""A conversation deleted while a turn is being written: nothing of the turn is left behind.

The delete is made to land at the worst moment, between a write's own steps: a pymongo command listener on
a second client (the writer's) deletes the conversation through the first one just as the write is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pymongo import MongoClient, monitoring

from voicechat.errors import NotFound
from voicechat.models import User
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store


class DeleteWhenSent(monitoring.CommandListener):
    """Runs ``action`` once, when the first ``command`` on ``collection`` is sent."""

    def __init__(self, command: str, collection: str) -> None:
        self.command, self.collection = command, collection
        self.action: Callable[[], None] | None = None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == self.command and event.command.get(self.command) == self.collection:
            action, self.action = self.action, None
            if action is not None:
                action()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def writer_with(store: Store) -> Iterator[Callable[[DeleteWhenSent], Store]]:
    """A second Store on the same database whose client reports its commands to a listener."""
    opened: list[Store] = []

    def make(listener: DeleteWhenSent) -> Store:
        host, port = store.db.run(lambda db: db.client.address)
        client: MongoClient[dict] = MongoClient(host, port, event_listeners=[listener], tz_aware=True)
        writer = Store.over(
            Database(client=client, name=store.db.name), cache=MemoryContextCache(), context_size=30
        )
        opened.append(writer)
        return writer

    yield make
    for writer in opened:
        writer.close()


@pytest.fixture
def alice(store: Store) -> User:
    return store.users.get_or_create(email="alice@example.com", name="Alice")


def test_a_message_stored_as_its_conversation_is_deleted_is_taken_back_out(
    store: Store, alice: User, writer_with: Callable[[DeleteWhenSent], Store]
) -> None:
    conversation = store.conversations.create(owner_id=alice.id, title="voice")
    listener = DeleteWhenSent("insert", "messages")
    writer = writer_with(listener)
    listener.action = lambda: store.conversations.mark_deleted(
        owner_id=alice.id, conversation_id=conversation.id
    )
    with pytest.raises(NotFound):
        writer.conversations.add_message(
            owner_id=alice.id, conversation_id=conversation.id, role="user", content="hello"
        )
    assert listener.action is None  # the delete did land between the check and the write
    assert store.db.run(lambda db: db.messages.count_documents({})) == 0


def test_a_clip_stored_as_its_conversation_is_deleted_is_removed(
    store: Store, alice: User, writer_with: Callable[[DeleteWhenSent], Store]
) -> None:
    conversation = store.conversations.create(owner_id=alice.id, title="voice")
    listener = DeleteWhenSent("insert", "audio.files")
    writer = writer_with(listener)
    listener.action = lambda: store.conversations.mark_deleted(
        owner_id=alice.id, conversation_id=conversation.id
    )
    with pytest.raises(NotFound):
        writer.audio.put(
            owner_id=alice.id,
            conversation_id=conversation.id,
            data=b"ID3" * 100,
            content_type="audio/mpeg",
            duration_seconds=1.0,
        )
    assert listener.action is None
    assert store.db.run(lambda db: db["audio.files"].count_documents({})) == 0
    assert store.db.run(lambda db: db["audio.chunks"].count_documents({})) == 0
