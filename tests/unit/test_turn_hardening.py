"""The reference deployment's coturn is closed by default: a valid TURN credential relays to public addresses
only (never into this machine or its private network), UDP only, a limited number of relays per user.

Real coturn with the flags of ``deploy/compose.yaml`` (``TurnServer`` reads them), spoken to with aioice's
TURN client: a channel binding is what a relay to a peer needs, and coturn answers 403 for a peer it refuses.
The relay here is IPv4 (aioice cannot ask for an IPv6 one), so the IPv6 ranges are not exercised: an IPv4
relay cannot reach an IPv6 peer at all (coturn answers 443).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aioice import stun
from aioice.turn import TurnClientTcpProtocol, TurnClientUdpProtocol

from tests.fakes.servers import ServerUnavailable, unavailable
from tests.fakes.turn_server import TurnServer, allocate, peer_refusals
from voicechat.turn_credentials import mint_turn_credentials

SECRET = "turn-hardening-secret-7d1e"
TCP_TRANSPORT = 0x06000000  # REQUESTED-TRANSPORT: protocol number 6 in the first byte
REFUSED_PEERS = [
    "10.1.2.3",
    "172.16.0.5",
    "172.31.255.254",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.169.254",  # a cloud's metadata service
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
]
PUBLIC_PEER = "203.0.113.7"  # a documentation address: not in any refused range


@pytest.fixture(scope="module")
def turn_server() -> Iterator[TurnServer]:
    server = TurnServer(SECRET)
    try:
        server.start()
    except ServerUnavailable as exc:
        unavailable(str(exc))
    yield server
    server.stop()


def test_a_relay_never_reaches_private_loopback_or_link_local_peers(turn_server: TurnServer) -> None:
    outcome = asyncio.run(peer_refusals(turn_server.port, SECRET, [*REFUSED_PEERS, PUBLIC_PEER]))
    assert outcome == {**dict.fromkeys(REFUSED_PEERS, 403), PUBLIC_PEER: None}


def test_relays_are_udp_only(turn_server: TurnServer) -> None:
    async def tcp_allocation() -> int | None:
        """Ask for a TCP relay (RFC 6062) over a TCP connection, as a client that wants one would."""
        credentials = mint_turn_credentials(
            urls=(turn_server.url,), secret=SECRET, user_id="7c1d" * 6, ttl_seconds=600
        )
        transport, protocol = await asyncio.get_running_loop().create_connection(
            lambda: TurnClientTcpProtocol(
                ("127.0.0.1", turn_server.port),
                username=credentials.username,
                password=credentials.credential,
                lifetime=600,
                channel_refresh_time=500,
            ),
            host="127.0.0.1",
            port=turn_server.port,
        )
        request = stun.Message(message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST)
        request.attributes["LIFETIME"] = 600
        request.attributes["REQUESTED-TRANSPORT"] = TCP_TRANSPORT
        try:
            await protocol.request_with_retry(request)
        except stun.TransactionFailed as exc:
            return int(exc.response.error_code)
        finally:
            transport.close()
        return None

    assert asyncio.run(tcp_allocation()) == 442  # Unsupported Transport Protocol


def test_one_user_gets_a_limited_number_of_relays(turn_server: TurnServer) -> None:
    async def allocations(count: int) -> tuple[int, int | None]:
        made: list[tuple[asyncio.BaseTransport, TurnClientUdpProtocol]] = []
        refused = None
        # One call's credentials, as a browser uses them: minted again in another second, the username
        # (which holds the expiry) would differ, and coturn counts the quota per username.
        credentials = mint_turn_credentials(
            urls=(turn_server.url,), secret=SECRET, user_id="9e2a" * 6, ttl_seconds=600
        )
        try:
            for _ in range(count):
                try:
                    made.append(await allocate(turn_server.port, SECRET, credentials=credentials))
                except stun.TransactionFailed as exc:
                    refused = exc.response.error_code
                    break
            return len(made), refused
        finally:
            for transport, protocol in made:
                await protocol.delete()
                transport.close()

    granted, refused = asyncio.run(allocations(30))
    # 486: Allocation Quota Reached (coturn's log, if not, says what it answered instead)
    assert (granted, refused) == (10, 486), turn_server.log()[-3000:]
