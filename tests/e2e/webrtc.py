"""What the Talk-mode browser tests share: the question the fake microphone asks, and WebRTC stats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.fakes.audio_samples import spoken_wav

QUESTION = "What is the capital of France?"
# Keep every RTCPeerConnection a page (or its component iframe) makes, to read its stats.
KEEP_PEER_CONNECTIONS = """
(() => {
  const Original = window.RTCPeerConnection;
  if (!Original || window.__peers) return;
  window.__peers = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    window.__peers.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
})();
"""
INBOUND_AUDIO_ENERGY = """async () => {
  let energy = 0;
  for (const pc of window.__peers || []) {
    const stats = await pc.getStats();
    stats.forEach(s => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') energy += s.totalAudioEnergy || 0;
    });
  }
  return energy;
}"""


@dataclass(frozen=True)
class Microphone:
    """What the fake microphone plays, in a loop: ``speak(text, pad_seconds=pause)`` gives the WAV."""

    pause: float = 4.0
    speak: Callable[..., bytes] = spoken_wav  # espeak-ng
