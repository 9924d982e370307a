"""A shallow error tree. Each error carries a message written for people and a ``retryable`` flag.

Log lines carry ids and error classes, never the user's content.
"""

from __future__ import annotations

from datetime import datetime


class VoicechatError(Exception):
    """Base of every error the app shows to a user."""

    retryable: bool = False
    default_message = "Something went wrong. Your message was saved; please try again."

    def __init__(self, user_message: str | None = None, *, retryable: bool | None = None) -> None:
        self.user_message = user_message or self.default_message
        if retryable is not None:
            self.retryable = retryable
        super().__init__(self.user_message)


class InvalidInput(VoicechatError):
    """The user's input was refused at the boundary; nothing was stored or sent."""

    default_message = "That input can't be used."


class NotFound(VoicechatError):
    """A malformed id, or one that belongs to someone else: the two look the same on purpose."""

    default_message = "That conversation was not found."


class NotAllowed(VoicechatError):
    """The acting user may not do this (an admin-only change, or one that would lock the admins out)."""

    default_message = "Only administrators can do that."


class Refused(VoicechatError):
    """A rate limit or the monthly budget refuses this request; ``retry_at`` says when it will be admitted."""

    retryable = True
    default_message = "You have reached a usage limit. Please try again later."

    def __init__(self, user_message: str, *, reason: str, retry_at: datetime) -> None:
        super().__init__(user_message)
        self.reason = reason
        self.retry_at = retry_at


class StorageUnavailable(VoicechatError):
    """The database could not be reached."""

    retryable = True
    default_message = "The database is not reachable right now. Please try again in a moment."


class ProviderError(VoicechatError):
    """A model provider failed; subclasses say how."""

    retryable = True
    default_message = (
        "The assistant is unavailable right now. Your message was saved - try again in a minute."
    )


class ProviderUnavailable(ProviderError):
    """Connection refused, timed out, 5xx, or a stream cut mid-way."""


class ProviderRateLimited(ProviderError):
    """The provider said 429; ``retry_after`` is in seconds when it told us."""

    default_message = "The assistant is busy. Your message was saved - try again in a minute."

    def __init__(self, user_message: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(user_message)
        self.retry_after = retry_after


class ProviderAuthError(ProviderError):
    """The API key is missing or was rejected."""

    retryable = False
    default_message = "The API key was rejected. Check OPENAI_API_KEY (or the key field in the sidebar)."


class ProviderRequestError(ProviderError):
    """The provider refused the request itself (unknown model, bad parameter)."""

    retryable = False
    default_message = "The assistant could not handle that request (check the model name in the settings)."
