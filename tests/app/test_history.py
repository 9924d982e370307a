"""The History page through AppTest: list, search, rename, delete with confirmation, empty states."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from voicechat import defaults
from voicechat.errors import NotFound
from voicechat.models import User
from voicechat.storage.store import Store


@pytest.fixture
def local_user(store: Store) -> User:
    return store.users.get_or_create(
        email=defaults.LOCAL_USER_EMAIL, name=defaults.LOCAL_USER_NAME, admin=True
    )


@pytest.fixture
def history(mongo_uri: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.run()
    at.switch_page("app_pages/history.py").run()
    return at


def seed(store: Store, user: User, titles: list[str]) -> list[str]:
    ids = []
    for title in titles:
        conv = store.conversations.create(owner_id=user.id, title=title)
        store.conversations.add_message(
            owner_id=user.id, conversation_id=conv.id, role="user", content=f"about {title}"
        )
        ids.append(conv.id)
    return ids


def test_lists_pages_and_searches(history: AppTest, store: Store, local_user: User) -> None:
    seed(store, local_user, [f"topic{i}" for i in range(25)])
    other = store.users.get_or_create(email="someone@example.com", name="S")
    seed(store, other, ["not mine"])
    history.run()
    titles = [m.value for m in history.markdown if m.value.startswith("**")]
    assert titles[:2] == ["**topic24**", "**topic23**"] and len(titles) == 20
    older = next(b for b in history.button if b.label == "Older")
    older.click().run()
    titles = [m.value for m in history.markdown if m.value.startswith("**")]
    assert titles == [f"**topic{i}**" for i in range(4, -1, -1)]
    history.text_input[0].input("about topic7").run()
    assert [t.value for t in history.text] == ["about topic7"]
    history.text_input[0].input("about mine").run()
    assert "No message contains all of those words" in history.info[0].value


def test_rename_and_delete_with_confirmation(history: AppTest, store: Store, local_user: User) -> None:
    keep, gone = seed(store, local_user, ["keep me", "delete me"])
    history.run()
    history.text_input(key=f"title-{keep}").input("Renamed *safely*").run()
    history.button(key=f"rename-{keep}").click().run()
    assert store.conversations.get(owner_id=local_user.id, conversation_id=keep).title == "Renamed *safely*"
    assert any(m.value == r"**Renamed \*safely\***" for m in history.markdown)
    history.text_input(key=f"title-{keep}").input("two\nlines").run()
    history.button(key=f"rename-{keep}").click().run()
    assert "single line" in history.error[0].value
    assert history.button(key=f"delete-{gone}").disabled  # not before confirming
    history.checkbox(key=f"sure-{gone}").check().run()
    history.button(key=f"delete-{gone}").click().run()
    with pytest.raises(NotFound):
        store.conversations.get(owner_id=local_user.id, conversation_id=gone)
    store.conversations.get(owner_id=local_user.id, conversation_id=keep)


def test_empty_state_tells_what_to_do(history: AppTest) -> None:
    assert not history.exception
    assert "No conversations yet" in history.info[0].value
