"""The container image and the compose file, run with podman as a team would deploy them.

``deploy/Containerfile`` is built on a Debian base made here (Docker Hub is not reachable: see FINDINGS), and
``deploy/compose.yaml`` is brought up with ``podman-compose``, two app containers and the ``turn`` profile. An
override file swaps the images this machine cannot pull for local ones: HAProxy, redis-server and coturn from
Debian, SecantusDB (in the app image) for MongoDB, and adds the fake OpenAI server (the tests' own, mounted
into the app image) on the compose network. Real Chromium then chats through the proxy, which names the
container that served it.

The stack is closed as the compose file makes it: Redis requires its password (a client without it is
refused), and so does MongoDB (SecantusDB enforces SCRAM-SHA-256 with ``--auth``; its stand-in creates the
administrator from MONGO_INITDB_ROOT_* as mongo's image does, see ``secantus_with_users.py``; what is not
exercised is mongo:8's own entrypoint). coturn runs with the compose file's own command and refuses to relay
to private or loopback peers.

The app behind a proxy is multi-user, so it needs sign-in: the browser carries a session cookie signed with
the deployment's cookie secret (Streamlit's own signing), as it would after signing in, since the identity
provider of the sign-in tests is not reachable from inside the containers. Sign-in itself has its own test.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aioice import stun

from tests.e2e.test_browser_chat import CHROMIUM, CHROMIUM_ARGS, browser_available
from tests.fakes.oidc import write_auth_secrets
from tests.fakes.servers import free_port, http_get, unavailable
from tests.fakes.turn_server import peer_refusals

# A fresh machine debootstraps the base and builds every image (about four minutes); later runs reuse layers.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).parents[2]
HERE = Path(__file__).parent
BASE = "localhost/debian:bookworm"
APP_IMAGE = "localhost/voicechat:test"
REDIS_IMAGE = "localhost/voicechat-test-redis:latest"
PROXY_IMAGE = "localhost/voicechat-test-haproxy:latest"
COTURN_IMAGE = "localhost/voicechat-test-coturn:latest"
COOKIE_SECRET = "compose-cookie-secret-0c7e2b9d4a61"
MONGO_PASSWORD = "0d9c41f6a7e2b5c8"
REDIS_PASSWORD = "7a3e9b1c5d0f2468"
TURN_SECRET = "compose-turn-secret-5b8e1f"
APPS = 2
# Run in the app container, on the compose network: what a client without the passwords gets.
WITHOUT_PASSWORDS = """
import json, os, redis, pymongo
from pymongo.errors import OperationFailure
from redis.backoff import NoBackoff
from redis.retry import Retry
out = {}
try:
    redis.Redis(host="redis", socket_timeout=5, retry=Retry(NoBackoff(), 0)).ping()
    out["redis"] = "answered"
except redis.AuthenticationError:
    out["redis"] = "refused"
out["redis_with_password"] = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5).ping()
client = pymongo.MongoClient("mongodb://mongo:27017/voicechat", serverSelectionTimeoutMS=10000)
try:
    client.voicechat.probe.insert_one({"x": 1})
    out["mongo"] = "answered"
except OperationFailure as exc:
    out["mongo"] = exc.code
print(json.dumps(out))
"""
ENV = dict(os.environ, CONTAINERS_CONF=str(HERE / "containers.conf"))


def podman(*args: str, timeout: float = 900, stdin: Any = None) -> subprocess.CompletedProcess[str]:
    """Run podman with this machine's settings; raises with its output when it fails."""
    result = subprocess.run(
        ["podman", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=stdin,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args[:3])}... failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result


def podman_available() -> None:
    """Fail in CI, skip elsewhere, when podman cannot run containers here."""
    problem = None
    if shutil.which("podman") is None:
        problem = "podman is not installed (apt-get install podman)"
    else:
        info = subprocess.run(["podman", "info"], env=ENV, capture_output=True, check=False)
        if info.returncode != 0:
            problem = f"podman cannot run here: {info.stderr.decode(errors='replace')[-500:]}"
    if problem:
        unavailable(problem)


def debian_mirror() -> str:
    """The machine's Debian mirror (debootstrap needs one), else Debian's own."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def ensure_base_image(workdir: Path) -> None:
    """A Debian bookworm base image made here with debootstrap (once; podman keeps it)."""
    exists = subprocess.run(["podman", "image", "exists", BASE], env=ENV, check=False)
    if exists.returncode == 0:
        return
    rootfs = workdir / "rootfs"
    subprocess.run(
        ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), debian_mirror()],
        check=True,
        capture_output=True,
        timeout=600,
    )
    with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
        podman("import", "-", BASE, stdin=tar.stdout)
    shutil.rmtree(rootfs, ignore_errors=True)


def build_images() -> None:
    """The app image from deploy/Containerfile, and the two stand-ins (cached layers make reruns quick)."""
    # Behind this machine's TLS-inspecting proxy pip needs its CA; the Containerfile takes it as a secret.
    extra_cas = list(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    secret = ["--secret", "id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt"] if extra_cas else []
    base = ["--build-arg", f"BASE={BASE}"]
    podman(
        "build",
        "--format",
        "docker",
        *base,
        *secret,
        "-f",
        "deploy/Containerfile",
        "-t",
        APP_IMAGE,
        str(ROOT),
    )
    stand_ins = (
        (REDIS_IMAGE, "redis.Containerfile"),
        (PROXY_IMAGE, "haproxy.Containerfile"),
        (COTURN_IMAGE, "coturn.Containerfile"),
    )
    for image, file in stand_ins:
        podman("build", *base, "-f", str(HERE / file), "-t", image, str(HERE))


@dataclass(frozen=True)
class Stack:
    """A running compose project: the proxy's URL, the project name, coturn's port on this machine."""

    url: str
    project: str
    turn_port: int


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The compose stack with two app containers and coturn (brought up once: it takes minutes)."""
    tmp_path = tmp_path_factory.mktemp("stack")
    podman_available()
    browser_available()
    ensure_base_image(tmp_path)
    build_images()
    port = free_port()
    secrets = tmp_path / "secrets.toml"
    write_auth_secrets(
        secrets,
        app_url=f"http://127.0.0.1:{port}",
        cookie_secret=COOKIE_SECRET,
        client_secret="unused",
        server_metadata_url="http://identity.invalid/.well-known/openid-configuration",  # never fetched
    )
    secrets.chmod(0o644)
    override = tmp_path / "compose.test.yaml"  # JSON is YAML
    override.write_text(
        json.dumps(
            {
                "services": {
                    "app": {
                        "image": APP_IMAGE,
                        "environment": {
                            "OPENAI_BASE_URL": "http://fake-openai:8000/v1",
                            "OPENAI_API_KEY": "sk-compose",
                            "VOICECHAT_ICE_SERVERS": "[]",
                        },
                        "volumes": [f"{secrets}:/app/.streamlit/secrets.toml:ro"],
                    },
                    "proxy": {"image": PROXY_IMAGE},
                    "mongo": {
                        "image": APP_IMAGE,
                        "user": "root",
                        "command": ["python", "/stand-in/secantus_with_users.py"],
                        "volumes": [f"{HERE}:/stand-in:ro"],
                        "healthcheck": {"disable": True},
                    },
                    "redis": {"image": REDIS_IMAGE},  # the compose file's command: --requirepass
                    "coturn": {"image": COTURN_IMAGE},  # the compose file's command, hardening and all
                    "fake-openai": {
                        "image": APP_IMAGE,
                        "volumes": [f"{ROOT / 'tests'}:/app/tests:ro"],
                        "command": ["python", "-m", "tests.fakes.openai_server", "0.0.0.0", "8000"],
                        "healthcheck": {"disable": True},
                    },
                }
            }
        )
    )
    project = f"vctest{os.getpid()}"
    compose = [
        str(Path(sys.executable).with_name("podman-compose")),
        "-p", project, "--profile", "turn", "-f", str(ROOT / "deploy" / "compose.yaml"), "-f", str(override),
    ]  # fmt: skip
    turn_port = free_port()
    env = dict(
        ENV,
        VOICECHAT_COOKIE_SECRET=COOKIE_SECRET,
        VOICECHAT_MONGO_PASSWORD=MONGO_PASSWORD,
        VOICECHAT_REDIS_PASSWORD=REDIS_PASSWORD,
        VOICECHAT_TURN_SECRET=TURN_SECRET,
        VOICECHAT_TURN_PORT=str(turn_port),
        PORT=str(port),
    )
    url = f"http://127.0.0.1:{port}"
    up = subprocess.run(
        [*compose, "up", "-d", "--no-build", "--scale", f"app={APPS}"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        wait_for_replicas(url, APPS)
        yield Stack(url=url, project=project, turn_port=turn_port)
    finally:
        logs = subprocess.run(
            [*compose, "logs"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        print(logs.stdout[-6000:], logs.stderr[-2000:])
        remove_project(project)


def remove_project(project: str) -> None:
    """The compose project's pod (podman-compose puts its containers in one), any container left, its
    network and volumes (``podman-compose down`` leaves the containers of a scaled service but the first)."""
    label = f"label=io.podman.compose.project={project}"
    subprocess.run(
        ["podman", "pod", "rm", "-f", "-t", "5", f"pod_{project}"], env=ENV, capture_output=True, check=False
    )
    containers = podman("ps", "-aq", "--filter", label).stdout.split()
    if containers:
        podman("rm", "-f", "-t", "5", *containers)
    for kind in ("network", "volume"):
        names = podman(kind, "ls", "-q", "--filter", label).stdout.split()
        if names:
            podman(kind, "rm", "-f", *names)


def replica_of(url: str, cookie: str | None = None) -> str | None:
    """The container the proxy sends this request to (a fresh client: round robin)."""
    import urllib.request

    request = urllib.request.Request(f"{url}/_stcore/health")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.headers.get("X-Voicechat-Replica")
    except OSError:
        return None


def wait_for_replicas(url: str, count: int) -> None:
    """Until the proxy answers through ``count`` different healthy app containers."""
    seen: set[str] = set()
    deadline = time.monotonic() + 240
    while len(seen) < count:
        assert time.monotonic() < deadline, f"only {sorted(seen)} answered through the proxy"
        if (name := replica_of(url)) is not None:
            seen.add(name)
        time.sleep(0.3)
    assert http_get(f"{url}/_stcore/health") == "ok"


def signed_in_cookie(url: str) -> str:
    """What Streamlit's sign-in callback would set for this person, signed with the deployment's secret."""
    from streamlit.web.server.starlette.starlette_app_utils import create_signed_value

    claims = {
        "sub": "carol-1",
        "iss": "http://identity.invalid",
        "email": "carol@example.com",
        "email_verified": True,
        "name": "Carol",
    }
    payload = dict(claims, origin=url, is_logged_in=True, provider="default")
    return create_signed_value(COOKIE_SECRET, "_streamlit_user", json.dumps(payload)).decode("latin-1")


def test_the_compose_stack_serves_a_chat_through_the_proxy(stack: Stack) -> None:
    from playwright.sync_api import sync_playwright

    url = stack.url

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.add_cookies([{"name": "_streamlit_user", "value": signed_in_cookie(url), "url": url}])
        page = context.new_page()
        response = page.goto(url)
        assert response is not None and response.headers["x-voicechat-replica"].startswith("app")
        try:
            page.get_by_text("Signed in as carol@example.com").wait_for(timeout=60_000)
        except Exception:
            print(page.inner_text("body")[:3000])
            raise
        page.get_by_test_id("stChatInputTextArea").fill("Containers, are you there?")
        page.keyboard.press("Enter")
        page.get_by_test_id("stChatMessage").nth(1).get_by_text("Containers, are you there?").wait_for(
            timeout=60_000
        )  # the fake echoes: the reply came from the fake provider, through the app container
        page.wait_for_url("**?c=*", timeout=30_000)
        served_by = page.request.get(f"{url}/_stcore/health").headers["x-voicechat-replica"]
        page.reload()  # stored in the compose file's MongoDB: the conversation is still there
        page.get_by_test_id("stChatMessage").nth(1).get_by_text("Containers, are you there?").wait_for(
            timeout=60_000
        )
        assert page.get_by_test_id("stChatMessage").count() == 2
        assert page.request.get(f"{url}/_stcore/health").headers["x-voicechat-replica"] == served_by
        browser.close()


def service_container(project: str, service: str) -> str:
    """The id of one running container of a compose service."""
    ids = podman(
        "ps", "-q", "--filter", f"label=io.podman.compose.project={project}",
        "--filter", f"label=com.docker.compose.service={service}",
    ).stdout.split()  # fmt: skip
    assert ids, f"no {service} container is running"
    return ids[0]


def test_the_stack_is_closed_by_default(stack: Stack) -> None:
    # From inside the compose network, as any container there could try: no password, no data.
    app = service_container(stack.project, "app")
    probe = json.loads(podman("exec", app, "python", "-c", WITHOUT_PASSWORDS, timeout=120).stdout)
    assert probe == {"redis": "refused", "redis_with_password": True, "mongo": 13}  # 13: Unauthorized
    # coturn, run with the compose file's command, relays to public peers only.
    service_container(stack.project, "coturn")
    peers = ["10.89.0.1", "172.17.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "203.0.113.7"]
    deadline = time.monotonic() + 60
    while True:
        try:
            outcome = asyncio.run(peer_refusals(stack.turn_port, TURN_SECRET, peers))
            break
        except (OSError, ConnectionError, stun.TransactionFailed, stun.TransactionTimeout):
            assert time.monotonic() < deadline, "coturn did not answer"
            time.sleep(1)
    assert outcome == {**dict.fromkeys(peers[:-1], 403), "203.0.113.7": None}
