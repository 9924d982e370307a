"""What the deployment allows of each tool (switched on or off, confirm first, reads only), shared by every
process (MongoDB), so a switch counts wherever it lands. Calls held for a user's yes are in held_calls.py."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from voicechat.storage.database import Database, Document

SWITCHES_FRESH_SECONDS = 5.0  # a process re-reads the switches at most this often


@dataclass(frozen=True)
class ToolSwitch:
    """An admin's choice for one tool (absent: the tool's default).

    ``read_only`` is the admin's word that an MCP server's tool changes nothing, so it may run ahead in a
    drafted reply (a server's own ``readOnlyHint`` is only a suggestion); built-in tools keep their own."""

    enabled: bool
    confirm_first: bool
    read_only: bool = False


class ToolStateRepository:
    """Deployment-wide tool switches (read often, cached briefly)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._switches: dict[str, ToolSwitch] = {}
        self._read_at = -SWITCHES_FRESH_SECONDS

    def switches(self) -> dict[str, ToolSwitch]:
        """Every tool an admin has set, by name (at most a few seconds old)."""
        with self._lock:
            if time.monotonic() - self._read_at < SWITCHES_FRESH_SECONDS:
                return dict(self._switches)
        docs = self._db.run(lambda db: list(db.tool_settings.find()))
        switches = {
            str(d["_id"]): ToolSwitch(
                bool(d.get("enabled", True)), bool(d.get("confirm_first")), bool(d.get("read_only"))
            )
            for d in docs
        }
        with self._lock:
            self._switches, self._read_at = switches, time.monotonic()
        return dict(switches)

    def set_switch(self, name: str, switch: ToolSwitch, *, by: str) -> None:
        """Store an admin's choice for ``name`` (the caller checks the admin role)."""
        change: Document = {
            "enabled": switch.enabled,
            "confirm_first": switch.confirm_first,
            "read_only": switch.read_only,
            "updated_by": by,
            "updated_at": datetime.now(UTC),
        }
        self._db.run(lambda db: db.tool_settings.update_one({"_id": name}, {"$set": change}, upsert=True))
        with self._lock:
            self._read_at = -SWITCHES_FRESH_SECONDS
