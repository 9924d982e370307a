"""OpenAI and OpenAI-compatible providers on the official SDK."""
