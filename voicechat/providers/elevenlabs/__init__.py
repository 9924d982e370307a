"""ElevenLabs: text-to-speech (``speech``) and the Agents conversation socket's protocol (``agent``)."""
