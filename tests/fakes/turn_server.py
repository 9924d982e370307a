"""coturn (Debian's ``turnserver``) on 127.0.0.1 with the TURN REST secret, as a deployment would run it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.fakes.servers import ServerUnavailable, free_port


class TurnServer:
    """UDP TURN with ``use-auth-secret``: it accepts only credentials minted from ``secret``. Its log is kept
    (``log()``) to see which usernames were allocated relays."""

    def __init__(self, secret: str) -> None:
        self.port = free_port()
        self.secret = secret
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
        command = [
            binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={self.port}",
            "--use-auth-secret", f"--static-auth-secret={self.secret}", "--realm=voicechat.test",
            "--no-tls", "--no-dtls", "--no-tcp-relay", "--allow-loopback-peers", "--no-cli",
            "--min-port=40000", "--max-port=40999", f"--log-file={self._log}", "--simple-log", "--verbose",
            f"--pidfile={self._home / 'turn.pid'}",
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
