"""The admin's "People" panel: change someone's role and subscription tier (enforced in the library)."""

from __future__ import annotations

import streamlit as st

from ui.context import AppContext
from voicechat.errors import VoicechatError
from voicechat.models import UserRole

ROLES: tuple[UserRole, ...] = ("user", "admin")


def render(app: AppContext) -> None:
    """A form for one person at a time; the outcome is said in words."""
    st.subheader("People")
    people = app.store.users.list_all(acting=app.user)
    tiers = ("default", *sorted(tier for tier, _ in app.settings.monthly_budgets if tier != "default"))
    budgets = dict(app.settings.monthly_budgets)
    st.caption(
        "Roles: admins see this dashboard. Tiers set the monthly budget ("
        + ", ".join(f"{t}: {_budget(budgets.get(t))}" for t in tiers)
        + "). Emails in VOICECHAT_ADMINS are made admins again whenever they sign in."
    )
    if not people:
        return
    by_id = {person.id: person for person in people}
    chosen = st.selectbox("Person", list(by_id), format_func=lambda i: f"{by_id[i].email} ({by_id[i].role})")
    person = by_id[chosen]
    with st.form(f"people-{chosen}"):  # one form per person: its fields start from that person's values
        cols = st.columns(2)
        role = cols[0].selectbox("Role", ROLES, index=ROLES.index(person.role))
        tier = cols[1].selectbox("Tier", tiers, index=tiers.index(person.tier) if person.tier in tiers else 0)
        saved = st.form_submit_button("Save")
    if saved:
        try:
            updated = app.store.users.set_access(
                acting=app.user, user_id=chosen, role=role, tier=tier, tiers=tiers
            )
        except VoicechatError as exc:
            st.error(exc.user_message)
        else:
            st.success(f"{updated.email} is now {updated.role} on the {updated.tier} tier.")


def _budget(amount: float | None) -> str:
    return "no budget" if amount is None else f"${amount:.2f}/month"
