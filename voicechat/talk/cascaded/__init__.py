"""The cascaded engine: our voice activity detection, then speech-to-text -> chat -> text-to-speech."""
