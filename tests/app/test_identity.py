"""Who is who (AppTest with a simulated st.user): signed-in users, admins, and the local mode warning."""

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
    app.user = {"is_logged_in": True, "email": "Worker@Example.com", "name": "Worker"}
    app.run()
    assert not app.exception
    assert any("Signed in as worker@example.com" in c.value for c in app.sidebar.caption)
    with pytest.raises(Exception):  # noqa: B017 (the page is not routed for non-admins at all)
        app.switch_page("pages/admin_usage.py").run()
    app.switch_page("pages/history.py").run()
    assert not app.exception


def test_listed_admins_get_the_dashboard(app: AppTest) -> None:
    app.user = {"is_logged_in": True, "email": "boss@example.com", "name": "Boss"}
    app.run()
    app.switch_page("pages/admin_usage.py").run()
    assert not app.exception and app.title[0].value == "Usage"


def test_local_mode_warns_when_served_on_a_network_address(mongo_uri: str) -> None:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.context = {"url": "http://10.1.2.3:8501/"}
    at.run()
    assert any("has no sign-in" in w.value for w in at.warning)
    at.context = {"url": "http://127.0.0.1:8501/"}
    at.run()
    assert not any("has no sign-in" in w.value for w in at.warning)


def test_the_dashboard_page_itself_refuses_non_admins(mongo_uri: str) -> None:
    # Defence in depth: even run directly (not through the router), the page checks the role.
    page = AppTest.from_file(str(Path(APP).parent / "pages" / "admin_usage.py"), default_timeout=30)
    page.secrets["MONGODB_URI"] = mongo_uri
    page.secrets["auth"] = AUTH
    page.user = {"is_logged_in": True, "email": "worker@example.com", "name": "Worker"}
    page.run()
    assert not page.exception
    assert page.error[0].value == "This page is for administrators."
    assert not page.metric


def test_an_admin_changes_a_role_and_it_applies_on_the_next_run(app: AppTest, store: Store) -> None:
    app.secrets["VOICECHAT_MONTHLY_BUDGETS"] = "default=5,pro=50"
    worker = AppTest.from_file(APP, default_timeout=30)
    for name in ("MONGODB_URI", "VOICECHAT_ADMINS", "VOICECHAT_MONTHLY_BUDGETS", "auth"):
        worker.secrets[name] = app.secrets[name]
    worker.user = {"is_logged_in": True, "email": "worker@example.com", "name": "Worker"}
    worker.run()
    with pytest.raises(Exception):  # noqa: B017 (not routed for non-admins)
        worker.switch_page("pages/admin_usage.py").run()

    app.user = {"is_logged_in": True, "email": "boss@example.com", "name": "Boss"}
    app.run()
    app.switch_page("pages/admin_usage.py").run()
    person = next(s for s in app.selectbox if s.label == "Person")
    person.select(store.users.get_or_create(email="worker@example.com", name="Worker").id).run()
    next(s for s in app.selectbox if s.label == "Role").select("admin")
    next(s for s in app.selectbox if s.label == "Tier").select("pro")
    app.button[-1].click().run()
    assert not app.exception
    assert app.success[0].value == "worker@example.com is now admin on the pro tier."

    worker.run()  # same browser session: the role is re-read, not cached
    worker.switch_page("pages/admin_usage.py").run()
    assert not worker.exception and worker.title[0].value == "Usage"


def test_the_admin_cannot_demote_themself(app: AppTest) -> None:
    app.user = {"is_logged_in": True, "email": "boss@example.com", "name": "Boss"}
    app.run()
    app.switch_page("pages/admin_usage.py").run()
    next(s for s in app.selectbox if s.label == "Role").select("user")
    app.button[-1].click().run()
    assert app.error[0].value == "You cannot remove your own admin role; ask another admin."


def test_a_hosting_platform_viewer_email_is_the_identity(mongo_uri: str, store: Store) -> None:
    # Community Cloud private apps: no [auth] section, the platform puts the viewer's email in st.user.
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.user = {"email": "Viewer@Corp.example"}
    at.context = {"url": "https://voicechat.streamlit.app/"}
    at.run()
    assert not at.exception
    assert any("Viewing as viewer@corp.example" in c.value for c in at.sidebar.caption)
    assert not any("has no sign-in" in w.value for w in at.warning)
    assert not store.users.get_or_create(email="viewer@corp.example", name="v").is_admin
