"""Who is who (AppTest with a simulated st.user carrying ID-token claims): signed-in users bound to their
provider's identity, verified emails, the allow-list, admins, and local mode's loopback-only door."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from voicechat.storage.store import Store

AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "voicechat",
    "client_secret": "s",
    "server_metadata_url": "http://127.0.0.1:9/.well-known",
}


ISSUER = "https://id.example.com"


def signed_in(
    email: str, name: str, *, issuer: str = ISSUER, verified: bool | None = True
) -> dict[str, object]:
    """``st.user`` after an OpenID Connect sign-in: the ID token's claims (subject derived from the email)."""
    claims: dict[str, object] = {
        "is_logged_in": True,
        "iss": issuer,
        "sub": f"sub-{email.lower()}",
        "email": email,
        "name": name,
    }
    if verified is not None:
        claims["email_verified"] = verified
    return claims


@pytest.fixture
def app(mongo_uri: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.secrets["VOICECHAT_ADMINS"] = "boss@example.com"
    at.secrets["auth"] = AUTH
    return at


def test_signed_out_users_are_asked_to_sign_in(app: AppTest) -> None:
    app.user = {"is_logged_in": False}
    app.run()
    assert not app.exception
    assert [b.label for b in app.button] == ["Sign in"]
    assert not app.chat_input  # nothing else renders


def test_a_non_admin_gets_no_dashboard(app: AppTest) -> None:
    app.user = signed_in("Worker@Example.com", "Worker")
    app.run()
    assert not app.exception
    assert any("Signed in as worker@example.com" in c.value for c in app.sidebar.caption)
    with pytest.raises(Exception):  # noqa: B017 (the page is not routed for non-admins at all)
        app.switch_page("app_pages/admin_usage.py").run()
    app.switch_page("app_pages/history.py").run()
    assert not app.exception


def test_listed_admins_get_the_dashboard(app: AppTest) -> None:
    app.user = signed_in("boss@example.com", "Boss")
    app.run()
    app.switch_page("app_pages/admin_usage.py").run()
    assert not app.exception and app.title[0].value == "Usage"


def test_local_mode_refuses_a_page_opened_through_a_network_address(mongo_uri: str) -> None:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.context = {"url": "http://10.1.2.3:8501/"}
    at.run()
    assert not at.exception
    assert at.title[0].value == "voicechat needs sign-in here"
    assert "configure sign-in" in at.error[0].value
    assert not at.chat_input and not at.sidebar.button  # nothing of the app, nothing of the local user
    at.context = {"url": "http://127.0.0.1:8501/"}
    at.run()
    assert not at.error and at.chat_input


def test_the_dashboard_page_itself_refuses_non_admins(mongo_uri: str) -> None:
    # Defence in depth: even run directly (not through the router), the page checks the role.
    page = AppTest.from_file(str(Path(APP).parent / "app_pages" / "admin_usage.py"), default_timeout=30)
    page.secrets["MONGODB_URI"] = mongo_uri
    page.secrets["auth"] = AUTH
    page.user = signed_in("worker@example.com", "Worker")
    page.run()
    assert not page.exception
    assert page.error[0].value == "This page is for administrators."
    assert not page.metric


def test_an_admin_changes_a_role_and_it_applies_on_the_next_run(app: AppTest, store: Store) -> None:
    app.secrets["VOICECHAT_MONTHLY_BUDGETS"] = "default=5,pro=50"
    worker = AppTest.from_file(APP, default_timeout=30)
    for name in ("MONGODB_URI", "VOICECHAT_ADMINS", "VOICECHAT_MONTHLY_BUDGETS", "auth"):
        worker.secrets[name] = app.secrets[name]
    worker.user = signed_in("worker@example.com", "Worker")
    worker.run()
    with pytest.raises(Exception):  # noqa: B017 (not routed for non-admins)
        worker.switch_page("app_pages/admin_usage.py").run()

    app.user = signed_in("boss@example.com", "Boss")
    app.run()
    app.switch_page("app_pages/admin_usage.py").run()
    person = next(s for s in app.selectbox if s.label == "Person")
    [worker_account] = store.users.find_by_email("worker@example.com")
    person.select(worker_account.id).run()
    next(s for s in app.selectbox if s.label == "Role").select("admin")
    next(s for s in app.selectbox if s.label == "Tier").select("pro")
    next(b for b in app.button if b.label == "Save").click().run()  # the People form's
    assert not app.exception
    assert app.success[0].value == "worker@example.com is now admin on the pro tier."

    worker.run()  # same browser session: the role is re-read, not cached
    worker.switch_page("app_pages/admin_usage.py").run()
    assert not worker.exception and worker.title[0].value == "Usage"


def test_the_admin_cannot_demote_themself(app: AppTest) -> None:
    app.user = signed_in("boss@example.com", "Boss")
    app.run()
    app.switch_page("app_pages/admin_usage.py").run()
    next(s for s in app.selectbox if s.label == "Role").select("user")
    next(b for b in app.button if b.label == "Save").click().run()
    assert app.error[0].value == "You cannot remove your own admin role; ask another admin."


def test_a_platform_viewer_email_is_the_identity_only_when_trusted(mongo_uri: str, store: Store) -> None:
    # No [auth] section: the platform in front of the app (a proxy setting the header that Streamlit's
    # server.trustedUserHeaders copies into st.user) puts the viewer's email in st.user, and the deployment
    # says it does so.
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.secrets["VOICECHAT_TRUST_PLATFORM_EMAIL"] = "on"
    at.user = {"email": "Viewer@Corp.example"}
    at.context = {"url": "https://voicechat.streamlit.app/"}
    at.run()
    assert not at.exception
    assert any("Viewing as viewer@corp.example" in c.value for c in at.sidebar.caption)
    [viewer] = store.users.find_by_email("viewer@corp.example")
    assert not viewer.is_admin


def test_without_the_setting_an_email_in_st_user_signs_nobody_in(mongo_uri: str, store: Store) -> None:
    # The same request without VOICECHAT_TRUST_PLATFORM_EMAIL: the email is anybody's claim (a header a
    # client sent), so local mode's rules apply: a page on another host gets sign-in advice, not the app.
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.secrets["VOICECHAT_ADMINS"] = "boss@example.com"
    at.user = {"email": "boss@example.com"}
    at.context = {"url": "https://voicechat.streamlit.app/"}
    at.run()
    assert not at.exception
    assert at.title[0].value == "voicechat needs sign-in here"
    assert not at.chat_input and not at.sidebar.caption
    assert store.users.find_by_email("boss@example.com") == []
    # On this machine it is local mode's one local user, never the claimed person.
    at.context = {"url": "http://127.0.0.1:8501/"}
    at.run()
    assert not at.exception and at.chat_input
    assert not any("Viewing as" in c.value for c in at.sidebar.caption)
    assert store.users.find_by_email("boss@example.com") == []


def test_an_unverified_email_is_refused_and_gets_no_account(app: AppTest, store: Store) -> None:
    app.user = signed_in("boss@example.com", "Impostor", verified=False)  # the listed admin's address
    app.run()
    assert not app.exception
    assert "has not verified the address boss@example.com" in app.error[0].value
    assert not app.chat_input
    assert [b.label for b in app.button] == ["Sign out"]
    assert store.users.find_by_email("boss@example.com") == []


def test_an_email_the_provider_does_not_vouch_for_is_no_admin(app: AppTest) -> None:
    app.user = signed_in("boss@example.com", "Maybe", verified=None)  # no email_verified claim at all
    app.run()
    assert not app.exception and app.chat_input
    with pytest.raises(Exception):  # noqa: B017 (not routed: the list grants admin to verified emails only)
        app.switch_page("app_pages/admin_usage.py").run()


def test_only_the_allowed_emails_and_domains_get_in(app: AppTest, store: Store) -> None:
    app.secrets["VOICECHAT_ALLOWED_USERS"] = "@example.com,guest@partner.example"
    app.user = signed_in("stranger@elsewhere.example", "Stranger")
    app.run()
    assert "invited people only" in app.error[0].value and not app.chat_input
    assert store.users.find_by_email("stranger@elsewhere.example") == []
    app.user = signed_in("guest@partner.example", "Guest")
    app.run()
    assert not app.error and app.chat_input
    app.user = signed_in("worker@example.com", "Worker")
    app.run()
    assert not app.error and app.chat_input


def test_the_same_email_from_another_issuer_is_another_account(app: AppTest, store: Store) -> None:
    app.user = signed_in("boss@example.com", "Boss")
    app.run()
    app.switch_page("app_pages/admin_usage.py").run()
    assert app.title[0].value == "Usage"

    other = AppTest.from_file(APP, default_timeout=30)
    for name in ("MONGODB_URI", "VOICECHAT_ADMINS", "auth"):
        other.secrets[name] = app.secrets[name]
    other.user = signed_in("boss@example.com", "Not the boss", issuer="https://accounts.elsewhere.example")
    other.run()
    assert not other.exception and other.chat_input
    accounts = store.users.find_by_email("boss@example.com")
    assert len({a.id for a in accounts}) == 2  # two people, each with only their own conversations


def test_a_listed_admin_removed_from_the_list_loses_the_role_at_the_next_sign_in(
    mongo_uri: str, store: Store
) -> None:
    def session(admins: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=30)
        at.secrets["MONGODB_URI"] = mongo_uri
        at.secrets["auth"] = AUTH
        at.secrets["VOICECHAT_ADMINS"] = admins
        at.user = signed_in("boss@example.com", "Boss")
        return at

    listed = session("boss@example.com")
    listed.run()
    listed.switch_page("app_pages/admin_usage.py").run()
    assert listed.title[0].value == "Usage"
    unlisted = session("someone-else@example.com")  # a new browser session: a new sign-in
    unlisted.run()
    assert not unlisted.exception
    with pytest.raises(Exception):  # noqa: B017 (not routed for non-admins)
        unlisted.switch_page("app_pages/admin_usage.py").run()
    [account] = store.users.find_by_email("boss@example.com")
    assert not account.is_admin
