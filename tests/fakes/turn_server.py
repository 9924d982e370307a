"""coturn (Debian's ``turnserver``) on 127.0.0.1 with the TURN REST secret, hardened as the reference
deployment runs it: the flags are read from ``deploy/compose.yaml``, so a test of it tests that file."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml
from aioice import stun
from aioice.turn import TurnClientUdpProtocol

from tests.fakes.servers import ServerUnavailable, free_port
from voicechat.turn_credentials import TurnCredentials, mint_turn_credentials

COMPOSE = Path(__file__).parents[2] / "deploy" / "compose.yaml"
FIRST_CHANNEL = 0x4000  # TURN channel numbers start here (RFC 8656)


RELAY_PORTS = 100  # relay ports each test server has to itself


def free_udp_range(size: int) -> int:
    """The first of ``size`` consecutive UDP ports on 127.0.0.1 that are free now."""
    rng = random.Random()
    for _ in range(200):
        first = rng.randrange(20_000, 60_000 - size)
        sockets: list[socket.socket] = []
        try:
            for port in range(first, first + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise ServerUnavailable(f"no {size} free UDP ports in a row")


def deployment_flags() -> list[str]:
    """coturn's command in the compose file, less what compose fills in (the secret, realm and port)."""
    command: list[str] = yaml.safe_load(COMPOSE.read_text())["services"]["coturn"]["command"]
    return [flag for flag in command if "${" not in flag]


class TurnServer:
    """UDP TURN with ``use-auth-secret``: it accepts only credentials minted from ``secret``. Its log is kept
    (``log()``) to see which usernames were allocated relays.

    The deployment refuses loopback peers; a test relaying between a browser and an app on this machine
    names the peers it needs in ``allowed_peers`` (coturn's ``allowed-peer-ip`` overrides denied ranges).
    """

    def __init__(self, secret: str, *, allowed_peers: Sequence[str] = ()) -> None:
        self.port = free_port()
        # Relay ports of its own: two servers at once (another test run, or workers) sharing one range
        # took each other's ports, and an allocation failed.
        self._relays = free_udp_range(RELAY_PORTS)
        self.secret = secret
        self.allowed_peers = tuple(allowed_peers)
        self._home = Path(tempfile.mkdtemp(prefix="coturn-"))
        self._log = self._home / "turn.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``turn:`` URL for VOICECHAT_TURN_URLS."""
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def start(self) -> TurnServer:
        """Start and wait until it listens."""
        binary = shutil.which("turnserver")
        if binary is None:
            raise ServerUnavailable("coturn is not installed (apt-get install coturn)")
        allowances = [f"--allowed-peer-ip={peer}" for peer in self.allowed_peers]
        if any(ipaddress.ip_address(peer.split("-")[0]).is_loopback for peer in self.allowed_peers):
            allowances.append("--allow-loopback-peers")  # coturn's own loopback ban comes first
        command = [
            binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={self.port}",
            f"--static-auth-secret={self.secret}", "--realm=voicechat.test", "--no-tls", "--no-dtls",
            f"--min-port={self._relays}", f"--max-port={self._relays + RELAY_PORTS - 1}",
            f"--log-file={self._log}", "--simple-log", "--verbose",
            f"--pidfile={self._home / 'turn.pid'}", *deployment_flags(), *allowances,
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, cwd=self._home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while "Total UDP servers" not in self.log() and "IPv4. UDP listener opened" not in self.log():
            if self._process.poll() is not None:
                raise ServerUnavailable(f"turnserver exited with code {self._process.returncode}")
            if time.monotonic() > deadline:
                raise ServerUnavailable("turnserver did not start within 10 s")
            time.sleep(0.1)
        return self

    def log(self) -> str:
        """Everything it logged so far."""
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def stop(self) -> None:
        """Terminate it and remove its files."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        shutil.rmtree(self._home, ignore_errors=True)


async def allocate(
    port: int,
    secret: str,
    *,
    user_id: str = "5f0c" * 6,
    host: str = "127.0.0.1",
    credentials: TurnCredentials | None = None,
) -> tuple[asyncio.BaseTransport, TurnClientUdpProtocol]:
    """A UDP relay on the TURN server at ``host:port``, with ``credentials`` or ones minted as the app mints
    them (their username holds the expiry second: minted again a second later, it is another username)."""
    url = f"turn:{host}:{port}"
    if credentials is None:
        credentials = mint_turn_credentials(urls=(url,), secret=secret, user_id=user_id, ttl_seconds=600)
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: TurnClientUdpProtocol(
            (host, port),
            username=credentials.username,
            password=credentials.credential,
            lifetime=600,
            channel_refresh_time=500,
        ),
        remote_addr=(host, port),
    )
    try:
        await protocol.connect()
    except BaseException:
        transport.close()
        raise
    return transport, protocol


async def peer_refusals(
    port: int, secret: str, peers: Sequence[str], *, host: str = "127.0.0.1"
) -> dict[str, int | None]:
    """For each peer, None if a relay may reach it, else the TURN server's error code (403: refused).

    A channel binding is what relaying to a peer needs; nothing is sent to the peer itself.
    """
    transport, protocol = await allocate(port, secret, host=host)
    outcome: dict[str, int | None] = {}
    try:
        for offset, peer in enumerate(peers):
            try:
                await protocol.channel_bind(FIRST_CHANNEL + offset, (peer, 9))
                outcome[peer] = None
            except stun.TransactionFailed as exc:
                outcome[peer] = exc.response.error_code
    finally:
        await protocol.delete()
        transport.close()
    return outcome
