"""Talk mode through TURN only: coturn on 127.0.0.1 with ``use-auth-secret`` and the deployment's hardening,
the browser forced to relay candidates (``VOICECHAT_ICE_TRANSPORT_POLICY=relay``), credentials minted by the
app per call from the shared secret. A turn is answered, its audio arrives, and the media path is the relay.

Browser and app are both on this machine, so the relay's peers are loopback addresses, which the deployment
refuses: this test alone allows 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.webrtc import QUESTION, inbound_audio_stats, reply_audio_energy, start_call, wait_for_reply
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import ServerUnavailable, StreamlitApp, unavailable
from tests.fakes.turn_server import TurnServer

pytestmark = pytest.mark.slow
TURN_SECRET = "turn-shared-secret-51c9a"
# The local and remote candidate types of the pair the browser's ICE agent selected.
SELECTED_PAIR = """async () => {
  for (const pc of window.__peers || []) {
    const stats = await pc.getStats();
    let pairId = null;
    stats.forEach(s => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    if (!pairId) continue;
    const pair = stats.get(pairId);
    return [stats.get(pair.localCandidateId).candidateType, stats.get(pair.remoteCandidateId).candidateType];
  }
  return null;
}"""


# Every peer connection's ICE and connection state, and its candidate pairs' states.
ICE_STATE = """async () => {
  const out = [];
  for (const pc of window.__peers || []) {
    const pairs = [];
    (await pc.getStats()).forEach(s => { if (s.type === 'candidate-pair') pairs.push(s.state); });
    out.push({ice: pc.iceConnectionState, gathering: pc.iceGatheringState, connection: pc.connectionState,
              pairs});
  }
  return out;
}"""


@pytest.fixture
def turn_server() -> Iterator[TurnServer]:
    server = TurnServer(TURN_SECRET, allowed_peers=["127.0.0.1"])
    try:
        server.start()
    except ServerUnavailable as exc:
        unavailable(str(exc))
    yield server
    server.stop()


@pytest.fixture
def app_settings(turn_server: TurnServer) -> dict[str, str]:
    """``served_app`` with TURN on the local coturn, and browsers kept on it."""
    return {
        "VOICECHAT_TURN_URLS": turn_server.url,
        "VOICECHAT_TURN_SECRET": TURN_SECRET,
        "VOICECHAT_ICE_TRANSPORT_POLICY": "relay",
    }


def test_a_talk_turn_over_a_turn_relay_only(
    served_app: StreamlitApp, talking_page: object, fake_openai: FakeOpenAI, turn_server: TurnServer
) -> None:
    page = talking_page
    fake_openai.transcript = QUESTION
    # Every chat request gets the reply (a cancelled draft would take a one-shot script's answer with it).
    fake_openai.script_chat(ChatScript(reply="Paris, relayed all the way.", repeat=True))
    page.goto(served_app.url)  # type: ignore[attr-defined]
    start_call(page)
    try:
        wait_for_reply(page, served_app, "Paris, relayed all the way.")
    except Exception:  # say how far ICE got (a call once never connected here: the frame's extra connections)
        print("relay:", turn_server.log()[-3000:])
        for frame in page.frames:  # type: ignore[attr-defined]
            print("ice:", frame.evaluate(ICE_STATE))
        raise
    energy = reply_audio_energy(page)
    assert energy > 0, inbound_audio_stats(page)  # the reply's audio came back through the relay
    frame = next(f for f in page.frames if f is not page.main_frame)  # type: ignore[attr-defined]
    assert frame.evaluate(SELECTED_PAIR)[0] == "relay"
    # The relay was allocated to a minted username (expiry:user id), never to a fixed one.
    log = turn_server.log()
    users = set(re.findall(r"username=<([^>]+)>", log))
    assert "ALLOCATE processed, success" in log
    assert users and all(re.fullmatch(r"\d{10}:[0-9a-f]{24}", user) for user in users), users
    assert TURN_SECRET not in page.content()  # type: ignore[attr-defined]
