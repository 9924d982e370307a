"""The clip encoder's helper process (``clip_encoder``): reads PCM requests on stdin, writes MP3 on stdout.

Run as ``python -m voicechat.audio.clip_helper [niceness]``; it exits when its stdin closes (its parent went).
"""

from __future__ import annotations

import contextlib
import os
import sys

from voicechat.audio.clip_encoder import REPLY, REQUEST, read_exactly
from voicechat.audio.encode import encode_for_storage


def serve(niceness: int) -> None:
    """Answer requests until stdin closes."""
    with contextlib.suppress(OSError):
        os.nice(niceness)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            sample_rate, size = REQUEST.unpack(read_exactly(source, REQUEST.size))
            pcm = read_exactly(source, size)
        except EOFError:
            return
        try:
            mp3, _ = encode_for_storage(pcm, sample_rate=sample_rate)
        except Exception:  # the parent then encodes this clip itself
            mp3 = b""
        sink.write(REPLY.pack(len(mp3)))
        sink.write(mp3)
        sink.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
