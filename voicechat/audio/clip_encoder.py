"""Stored clips are MP3-encoded in a helper process, so the encoding never holds the app's GIL.

LAME (through PyAV) keeps the GIL while it encodes: 17 ms for 2 s of a user's 16 kHz speech, 40 ms for 4 s
of a 24 kHz reply, in stretches of up to 8 ms that no switch interval can cut. In a process carrying many
calls, every turn's two clips were that much time the audio loop could not run. Here the PCM goes down a
pipe to one helper (``python -m voicechat.audio.clip_helper``: PyAV and numpy, nothing of the app; started
on first use, at lowered CPU priority) and the MP3 comes back; the calling thread waits without the GIL.
One clip at a time goes through the helper. If it cannot start or dies, that clip is encoded in this
process as before (logged), and clips are encoded here for ``RETRY_SECONDS`` before a new helper is tried.
"""

from __future__ import annotations

import atexit
import logging
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from voicechat.audio.encode import STORED_CONTENT_TYPE, encode_for_storage

log = logging.getLogger(__name__)
HELPER_NICENESS = 10  # the helper gives way to the calls' audio when the cores are busy
# A request: sample rate and PCM length; a reply: MP3 length (0 = it could not encode that clip).
REQUEST = struct.Struct("<II")
REPLY = struct.Struct("<I")
RETRY_SECONDS = 30.0
_IMPORT_ROOT = str(Path(__file__).parents[2])  # where ``voicechat`` is, whatever the working directory


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    """``size`` bytes from ``stream``; EOFError if it ends first."""
    data = stream.read(size) if size else b""
    if len(data) != size:
        raise EOFError("the pipe closed mid-message")
    return data


class ClipEncoder:
    """MP3-encodes clips in a helper process (``encode`` is thread-safe and blocks until done)."""

    def __init__(self, command: list[str] | None = None) -> None:
        """``command`` runs the helper (default: ``python -m voicechat.audio.clip_helper``)."""
        helper = [sys.executable, "-m", "voicechat.audio.clip_helper", str(HELPER_NICENESS)]
        self._command = command or helper
        self._lock = threading.Lock()
        self._helper: subprocess.Popen[bytes] | None = None
        self._failed_at = float("-inf")

    def encode(self, pcm: bytes, *, sample_rate: int) -> tuple[bytes, str]:
        """``encode_for_storage(pcm, sample_rate=...)``, run in the helper (here if it is unavailable)."""
        mp3 = b""
        with self._lock:
            if time.monotonic() - self._failed_at >= RETRY_SECONDS:
                try:
                    mp3 = self._ask(pcm, sample_rate)
                except (OSError, EOFError, ValueError) as exc:
                    log.warning("the clip encoder process failed (%s); encoding here", type(exc).__name__)
                    self._failed_at = time.monotonic()
                    self._stop()
        if mp3:
            return mp3, STORED_CONTENT_TYPE
        return encode_for_storage(pcm, sample_rate=sample_rate)

    def _ask(self, pcm: bytes, sample_rate: int) -> bytes:
        helper = self._running()
        assert helper.stdin is not None and helper.stdout is not None
        helper.stdin.write(REQUEST.pack(sample_rate, len(pcm)))
        helper.stdin.write(pcm)
        helper.stdin.flush()
        (size,) = REPLY.unpack(read_exactly(helper.stdout, REPLY.size))
        return read_exactly(helper.stdout, size)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._helper is not None and self._helper.poll() is not None:
            self._stop()  # it exited (killed, or out of memory): its pipes are closed, a new one starts
        if self._helper is None:
            path = os.pathsep.join(p for p in (_IMPORT_ROOT, os.environ.get("PYTHONPATH")) if p)
            self._helper = subprocess.Popen(  # noqa: S603 - our own module, no shell
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
            )
        return self._helper

    def _stop(self) -> None:
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.kill()
            helper.wait()
            for pipe in (helper.stdin, helper.stdout):
                if pipe is not None:
                    pipe.close()

    def close(self) -> None:
        """Stop the helper (the next ``encode`` starts a new one)."""
        with self._lock:
            self._stop()


_shared = ClipEncoder()
atexit.register(_shared.close)


def encode_clip(pcm: bytes, *, sample_rate: int) -> tuple[bytes, str]:
    """MP3 bytes of 16-bit mono PCM and their content type, encoded by the process's shared helper."""
    return _shared.encode(pcm, sample_rate=sample_rate)
