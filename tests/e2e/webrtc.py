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
# What the call's audio receivers got: the energy says reply audio arrived; when it did not, a few 3-byte
# packets a second is Opus silence sent by a starved server (seen when the machine is saturated), and no
# packets at all is a broken call.
INBOUND_AUDIO_STATS = """async () => {
  const out = [];
  for (const pc of window.__peers || []) {
    const stats = await pc.getStats();
    stats.forEach(s => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') out.push(
        {connection: pc.connectionState, packets: s.packetsReceived, bytes: s.bytesReceived,
         seconds: s.totalSamplesDuration, concealed: s.concealedSamples, energy: s.totalAudioEnergy});
    });
  }
  return out;
}"""


def inbound_audio_stats(page: object) -> list[dict[str, object]]:
    """The inbound audio stats of every call frame's connections (the frame appears once "Start a call"
    has drawn it)."""
    frames = [f for f in page.frames if f is not page.main_frame]  # type: ignore[attr-defined]
    return [stats for frame in frames for stats in frame.evaluate(INBOUND_AUDIO_STATS)]


def reply_audio_energy(page: object, *, polls: int = 50) -> float:
    """The audio energy the call's component frame has received, polled every 200 ms until it is above 0
    (or ``polls`` times): 0 means no reply audio reached the browser."""
    energy = 0.0
    for _ in range(polls):
        energy = sum(float(stats.get("energy") or 0) for stats in inbound_audio_stats(page))  # type: ignore[arg-type]
        if energy > 0:
            break
        page.wait_for_timeout(200)  # type: ignore[attr-defined]
    return energy


def wait_for_reply(page: object, app: object, text: str, *, timeout_ms: int = 60_000) -> None:
    """Wait until ``text`` shows on the page; if it never does, print what the page, the call's audio and
    the app's output showed, so a failure says whether the call connected, heard, or answered."""
    try:
        page.get_by_text(text).first.wait_for(timeout=timeout_ms)  # type: ignore[attr-defined]
    except Exception:
        print("page:", page.inner_text("body")[-2000:])  # type: ignore[attr-defined]
        print("call audio:", inbound_audio_stats(page))
        print("app:", app.output()[-5000:])  # type: ignore[attr-defined]
        raise


def start_call(page: object) -> None:
    """Press "Start a call", as a person would (the call's WebRTC frame shows no buttons of its own)."""
    page.get_by_role("button", name="Start a call").click()  # type: ignore[attr-defined]


def end_call(page: object) -> None:
    """Press "End call" on the call screen, and wait until "Start a call" is back."""
    page.get_by_role("button", name="End call").click()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Start a call").wait_for(timeout=30_000)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Microphone:
    """What the fake microphone plays, in a loop: ``speak(text, pad_seconds=pause)`` gives the WAV."""

    pause: float = 4.0
    speak: Callable[..., bytes] = spoken_wav  # espeak-ng


def microphone_args(wav: object) -> list[str]:
    """Chromium's switches for a fake microphone that loops ``wav`` (a path), granted without asking, on
    loopback WebRTC, with the reply allowed to autoplay."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
    ]
