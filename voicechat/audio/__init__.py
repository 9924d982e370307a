"""Audio helpers: PCM containers now; decoding, validation and VAD arrive with the voice issues."""
