"""Sign-in through a local OpenID Connect provider in real Chromium: two people, each sees only their own.

Streamlit's native ``st.login`` is configured with an ``[auth]`` secrets section pointing at the provider on
127.0.0.1; every browser context is a different person (its own cookies).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.oidc import OIDCProvider, write_auth_secrets
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp
from voicechat.storage.database import Database

# The provider runs in this process, where warnings are errors; its Authlib calls raise deprecation warnings
# that would turn its token endpoint into a 500. The app itself runs in its own process, unaffected.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
CLIENT_SECRET = "oidc-client-secret-9d1c"
COOKIE_SECRET = "cookie-secret-4be7f0a2c1d9e8b7a6f5"


@pytest.fixture
def signed_app(
    mongo_uri: str, fake_openai: FakeOpenAI, provider: OIDCProvider, tmp_path: Path
) -> Iterator[StreamlitApp]:
    secrets = tmp_path / "secrets.toml"
    app = StreamlitApp(
        {
            "MONGODB_URI": mongo_uri,
            "OPENAI_BASE_URL": fake_openai.base_url,
            "OPENAI_API_KEY": "sk-e2e",
            "VOICECHAT_DATA_DIR": str(tmp_path),
            "VOICECHAT_ADMINS": "bob@example.com",
            "VOICECHAT_ALLOWED_USERS": "@example.com",
            "VOICECHAT_ICE_SERVERS": "[]",
        },
        secrets_file=secrets,
    )
    write_auth_secrets(
        secrets,
        app_url=app.url,
        cookie_secret=COOKIE_SECRET,
        client_secret=CLIENT_SECRET,
        server_metadata_url=provider.metadata_url,
    )
    app.start()
    yield app
    app.stop()


def attempt_sign_in(browser: Any, url: str, subject: str) -> Any:
    """A new browser (own cookies) through the provider's authorisation page as ``subject``."""
    page = browser.new_context().new_page()
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=subject).click()  # the provider's one-click button for a known subject
    return page


def sign_in(browser: Any, url: str, who: str) -> Any:
    """A new browser signed in as ``who``."""
    page = attempt_sign_in(browser, url, who)
    page.get_by_text(f"Signed in as {who}").wait_for(timeout=30_000)
    return page


def say(page: Any, text: str, reply: str) -> None:
    page.get_by_test_id("stChatInputTextArea").fill(text)
    page.keyboard.press("Enter")
    # .first: a new conversation's first reply is drawn again from storage by a rerun, and for a moment
    # the streamed one (marked stale) and the stored one are both on the page (seen 2 times in 6).
    page.get_by_text(reply).first.wait_for(timeout=30_000)
    page.wait_for_url("**?c=*", timeout=30_000)


def open_history(page: Any, url: str) -> None:
    page.goto(f"{url}/history")
    page.get_by_role("heading", name="History").wait_for(timeout=30_000)


def test_two_people_see_only_their_own_and_only_the_admin_gets_the_dashboard(
    signed_app: StreamlitApp, browser: Any, fake_openai: FakeOpenAI
) -> None:
    alice = sign_in(browser, signed_app.url, "alice@example.com")
    fake_openai.script_chat(ChatScript(reply="Noted, Alice: the lilac plan."))
    say(alice, "Remember my lilac plan", "Noted, Alice: the lilac plan.")
    alice_conversation = alice.url.split("?c=")[1]
    assert alice.get_by_role("link", name="Usage (admin)").count() == 0

    bob = sign_in(browser, signed_app.url, "bob@example.com")
    fake_openai.script_chat(ChatScript(reply="Understood, Bob: the teal budget."))
    say(bob, "Remember my teal budget", "Understood, Bob: the teal budget.")
    open_history(bob, signed_app.url)
    bob.get_by_text("Remember my teal budget").first.wait_for(timeout=30_000)
    assert bob.get_by_text("lilac").count() == 0

    # Bob opens Alice's conversation by its id: refused, and nothing of hers shows.
    bob.goto(f"{signed_app.url}/?c={alice_conversation}")
    bob.get_by_text("not found", exact=False).first.wait_for(timeout=30_000)
    assert bob.get_by_text("lilac").count() == 0

    # Bob is the listed admin: he gets the dashboard; Alice does not, not even by its address.
    bob.goto(f"{signed_app.url}/admin_usage")
    bob.get_by_role("heading", name="Usage").first.wait_for(timeout=30_000)
    alice.goto(f"{signed_app.url}/admin_usage")
    alice.get_by_text("Signed in as alice@example.com").wait_for(timeout=30_000)
    assert alice.get_by_role("heading", name="Usage").count() == 0

    open_history(alice, signed_app.url)
    alice.get_by_text("Remember my lilac plan").first.wait_for(timeout=30_000)
    assert alice.get_by_text("teal").count() == 0

    # Signing out ends the session: the sign-in page again, and nothing of Alice's.
    alice.get_by_role("button", name="Sign out").click()
    alice.get_by_role("button", name="End session").click()  # the provider ends its session too
    alice.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    alice.goto(signed_app.url)
    alice.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    assert alice.get_by_text("lilac").count() == 0
    for page in (alice, bob):
        html = page.content()
        assert CLIENT_SECRET not in html and COOKIE_SECRET not in html and "sk-e2e" not in html


def test_an_unverified_address_and_an_uninvited_domain_are_turned_away(
    signed_app: StreamlitApp, browser: Any, mongo_uri: str
) -> None:
    mallory = attempt_sign_in(browser, signed_app.url, "mallory-sub")
    mallory.get_by_text("has not verified the address bob@example.com").wait_for(timeout=30_000)
    assert mallory.get_by_test_id("stChatInputTextArea").count() == 0
    assert mallory.get_by_role("link", name="Usage (admin)").count() == 0
    mallory.goto(f"{signed_app.url}/admin_usage")
    mallory.get_by_text("has not verified the address").wait_for(timeout=30_000)
    assert mallory.get_by_role("heading", name="Usage").count() == 0

    eve = attempt_sign_in(browser, signed_app.url, "eve@elsewhere.example")
    eve.get_by_text("invited people only").wait_for(timeout=30_000)
    assert eve.get_by_test_id("stChatInputTextArea").count() == 0
    eve.get_by_role("button", name="Sign out").click()  # the way out: another account
    eve.get_by_role("button", name="End session").click()
    eve.get_by_role("button", name="Sign in").wait_for(timeout=30_000)

    db = Database.connect(mongo_uri)
    try:
        emails = db.run(lambda raw: [u["email"] for u in raw.users.find({}, {"email": 1})])
    finally:
        db.close()
    assert emails == []  # neither got an account
