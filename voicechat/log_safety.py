"""Keep user content and secrets out of logs.

Our own log lines carry ids, statuses and timings only. Some libraries log whole requests at DEBUG: pymongo's
command logger writes documents (messages, titles), the OpenAI SDK and its HTTP clients write request bodies
(prompts) and headers. Those loggers are capped at WARNING whatever the root level is.
"""

from __future__ import annotations

import logging

CONTENT_LOGGERS = (
    "pymongo",
    "openai",
    "httpx",
    "httpx2",
    "httpcore",
    "urllib3",
    "uvicorn.access",
    "websockets",
    "mcp",  # the MCP SDK logs tool calls and their errors (arguments and results are user content)
)
APP_LOGGER = "voicechat"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_app_events(level: int = logging.INFO) -> None:
    """Print our own log lines (ids, statuses, timings) on stderr at ``level``, once per process."""
    logger = logging.getLogger(APP_LOGGER)
    if not any(getattr(h, "_voicechat", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._voicechat = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(level)


def keep_content_out_of_logs() -> None:
    """Cap the loggers that would record content at WARNING (idempotent)."""
    for name in CONTENT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
