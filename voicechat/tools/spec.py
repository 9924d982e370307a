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
    """Who a call is for, where, in which turn, and what the user said in it (their own words: a memory is
    stored only when they state it)."""

    user: User
    conversation_id: str
    store: Store
    timezone: str | None = None  # IANA name from the browser; None: UTC
    user_said: str = ""
    turn_id: str = ""  # the turn the call is made in (a call it holds cannot be confirmed within it)
    # Speech-to-speech engines: the model itself calls a held tool again after the user's answer, and the
    # held call runs when the user's new words in a later turn are a clear yes (other engines settle a
    # held call before the model is asked, and never from a model's call).
    confirm_by_call: bool = False


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
