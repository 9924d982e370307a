"""Stored audio clips (voice messages and spoken replies) in a GridFS bucket, scoped to their owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import gridfs
from bson import Binary, ObjectId
from gridfs.errors import NoFile
from pymongo.database import Database as PymongoDatabase

from voicechat.errors import InvalidInput, NotFound
from voicechat.storage.database import Database, Document, parse_id

BUCKET = "audio"
CHUNK_BYTES = 255 * 1024  # GridFS's default chunk size
MAX_AUDIO_BYTES = 25 * 1024 * 1024  # the same cap as uploads; a stored clip is compressed and far smaller


@dataclass(frozen=True)
class AudioClip:
    """A stored clip with what is needed to play it back."""

    id: str
    data: bytes
    content_type: str
    duration_seconds: float
    created_at: datetime


class AudioStore:
    """Puts, reads and deletes clips; a clip of another user is "not found"."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(
        self, *, owner_id: str, conversation_id: str, data: bytes, content_type: str, duration_seconds: float
    ) -> str:
        """Store ``data`` as a clip of ``conversation_id`` and return its id.

        Refused with ``NotFound`` when the conversation is not its owner's live conversation, checked once
        the clip is written: a clip stored for someone else's conversation, or while the conversation was
        being deleted, is removed here, so a delete racing a turn never leaves a recording nobody can reach.
        The clip is written as GridFS documents directly (its chunks, then its file document, as a bucket
        writes them): two writes, where a bucket's upload also makes two index look-ups.
        """
        if not data:
            raise InvalidInput("The audio clip is empty.")
        if len(data) > MAX_AUDIO_BYTES:
            raise InvalidInput("The audio clip is too large to store.")
        owner, conversation = parse_id(owner_id), parse_id(conversation_id)
        file_id = ObjectId()
        metadata = {
            "owner_id": owner,
            "conversation_id": conversation,
            "content_type": content_type,
            "duration_seconds": duration_seconds,
        }
        chunks = [
            {
                "_id": ObjectId(),
                "files_id": file_id,
                "n": n,
                "data": Binary(data[start : start + CHUNK_BYTES]),
            }
            for n, start in enumerate(range(0, len(data), CHUNK_BYTES))
        ]
        now = datetime.now(UTC)
        uploaded = now.replace(microsecond=now.microsecond // 1000 * 1000)  # BSON dates keep milliseconds
        file = {
            "_id": file_id,
            "length": len(data),
            "chunkSize": CHUNK_BYTES,
            "uploadDate": uploaded,
            "filename": str(file_id),
            "metadata": metadata,
        }
        self._db.run(lambda db: db[f"{BUCKET}.chunks"].insert_many(chunks))
        self._db.run(lambda db: db[f"{BUCKET}.files"].insert_one(file))
        if not self._live(owner, conversation):
            self._db.run(lambda db: gridfs.GridFSBucket(db, bucket_name=BUCKET).delete(file_id))
            raise NotFound()
        return str(file_id)

    def _live(self, owner: ObjectId, conversation: ObjectId) -> bool:
        query = {"_id": conversation, "owner_id": owner}
        return self._db.run(lambda db: db.conversations.find_one(query, {"_id": 1})) is not None

    def get(self, *, owner_id: str, audio_id: str) -> AudioClip:
        """The clip, if it exists and belongs to ``owner_id``."""
        owner, file_id = parse_id(owner_id), parse_id(audio_id)

        def read(db: PymongoDatabase[Document]) -> AudioClip:
            try:
                stream = gridfs.GridFSBucket(db, bucket_name=BUCKET).open_download_stream(file_id)
            except NoFile:
                raise NotFound("That recording was not found.") from None
            metadata = stream.metadata or {}
            if metadata.get("owner_id") != owner:
                raise NotFound("That recording was not found.")
            return AudioClip(
                id=str(file_id),
                data=stream.read(),
                content_type=str(metadata.get("content_type", "application/octet-stream")),
                duration_seconds=float(metadata.get("duration_seconds", 0.0)),
                created_at=stream.upload_date,
            )

        return self._db.run(read)

    def delete_for_conversation(self, conversation_id: ObjectId, audio_ids: list[ObjectId]) -> int:
        """Delete every clip of a conversation: those stored for it, and those its messages name (clips
        stored before clips were filed by conversation). Returns how many were deleted."""

        def delete(db: PymongoDatabase[Document]) -> int:
            bucket = gridfs.GridFSBucket(db, bucket_name=BUCKET)
            ids = {f._id for f in bucket.find({"metadata.conversation_id": conversation_id})}
            if audio_ids:
                ids |= {f._id for f in bucket.find({"_id": {"$in": audio_ids}})}
            for file_id in ids:
                bucket.delete(file_id)
            return len(ids)

        return self._db.run(delete)
