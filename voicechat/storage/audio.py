"""Stored audio clips (voice messages and spoken replies) in a GridFS bucket, scoped to their owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import gridfs
from bson import ObjectId
from gridfs.errors import NoFile
from pymongo.database import Database as PymongoDatabase

from voicechat.errors import InvalidInput, NotFound
from voicechat.storage.database import Database, Document, parse_id

BUCKET = "audio"
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

    def put(self, *, owner_id: str, data: bytes, content_type: str, duration_seconds: float) -> str:
        """Store ``data`` and return its id."""
        if not data:
            raise InvalidInput("The audio clip is empty.")
        if len(data) > MAX_AUDIO_BYTES:
            raise InvalidInput("The audio clip is too large to store.")
        owner = parse_id(owner_id)
        file_id = ObjectId()
        metadata = {"owner_id": owner, "content_type": content_type, "duration_seconds": duration_seconds}
        self._db.run(
            lambda db: gridfs.GridFSBucket(db, bucket_name=BUCKET).upload_from_stream_with_id(
                file_id, f"{file_id}", data, metadata=metadata
            )
        )
        return str(file_id)

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

    def delete_many(self, *, owner_id: str, audio_ids: list[str]) -> int:
        """Delete the owner's clips among ``audio_ids``; returns how many were deleted."""
        owner = parse_id(owner_id)
        ids = [parse_id(a) for a in audio_ids]

        def delete(db: PymongoDatabase[Document]) -> int:
            bucket = gridfs.GridFSBucket(db, bucket_name=BUCKET)
            owned = bucket.find({"_id": {"$in": ids}, "metadata.owner_id": owner})
            count = 0
            for grid_out in owned:
                bucket.delete(grid_out._id)
                count += 1
            return count

        return self._db.run(delete) if ids else 0
