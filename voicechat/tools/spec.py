"""What a tool is, what it is given when it runs, and what one call produced."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voicechat.models import ToolStep, User
from voicechat.providers.base import FunctionSpec
from voicechat.storage.store import Store

BUILT_IN = "built-in"


@dataclass(frozen=True)
class ToolContext:
    """Who a call is for, where, and what they last said (a confirm-first tool runs on their yes)."""

    user: User
    conversation_id: str
    store: Store
    timezone: str | None = None  # IANA name from the browser; None: UTC
    user_said: str = ""


class Tool(ABC):
    """A function the model may call. ``run`` returns text for the model or raises (the runner turns any
    exception into an error result the model sees)."""

    def __init__(
        self, *, name: str, description: str, parameters: Mapping[str, Any], read_only: bool, source: str
    ) -> None:
        self.spec = FunctionSpec(name=name, description=description, parameters=json.dumps(dict(parameters)))
        self.read_only = read_only  # changes nothing anywhere: safe to run ahead (a drafted reply)
        self.source = source

    @property
    def name(self) -> str:
        """The name the model calls it by."""
        return self.spec.name

    @abstractmethod
    def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """Do the work; the returned text goes to the model as the call's result."""


@dataclass(frozen=True)
class ToolOutcome:
    """One call's result as the model sees it (``content``) and as it is stored and shown (``step``)."""

    call_id: str
    content: str
    step: ToolStep


def no_parameters() -> dict[str, Any]:
    """The JSON schema of a tool that takes nothing."""
    return {"type": "object", "properties": {}, "additionalProperties": False}
