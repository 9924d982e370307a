"""Engines whose provider hears, decides turns and answers over one WebSocket: OpenAI Realtime and
ElevenLabs Agents (``connected`` is what they share)."""
