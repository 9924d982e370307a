"""What a reply offers under it: copy, read aloud (spoken with the current voice, stored and priced like any
speech), regenerate (the last reply only), and thumbs up or down with an optional comment."""

from __future__ import annotations

from datetime import date

import streamlit as st

from ui.context import AppContext, admit
from ui.state import ChatState
from voicechat.errors import VoicechatError
from voicechat.models import Message, Rating
from voicechat.providers.speech_factory import speaker_for
from voicechat.turns.push_to_talk import VoiceTurnService

REGENERATE = "regenerate"  # the chat page's pending action after the button


def render(app: AppContext, state: ChatState, message: Message, *, last: bool) -> None:
    """The actions of one stored reply."""
    copy, listen, again, rate = st.columns([1, 1.3, 1.3, 2.4], vertical_alignment="center")
    with copy.popover("Copy", icon=":material/content_copy:", help="Copy this reply"):
        st.code(message.content, language=None, wrap_lines=True)  # its copy button takes the raw text
    if listen.button("Read aloud", key=f"listen-{message.id}", icon=":material/volume_up:"):
        _read_aloud(app, state, message)
    if last and again.button("Regenerate", key=f"again-{message.id}", icon=":material/refresh:"):
        state.pending_action = REGENERATE
        st.rerun()
    with rate:
        _rating(app, message)


def _read_aloud(app: AppContext, state: ChatState, message: Message) -> None:
    if message.audio_id:
        state.autoplay_audio_id = message.audio_id  # spoken before: play what is stored
        st.rerun()
    try:
        admit(app, "voice")  # speech is paid: limits and budget apply
        speaker = speaker_for(
            app.settings, state.preferences, today=date.today(), openai_api_key=state.api_key
        )
        with st.spinner("Speaking…"):
            spoken = VoiceTurnService(store=app.store, settings=app.settings).speak_reply(
                user=app.user, reply=message, speaker=speaker
            )
    except VoicechatError as exc:
        st.error(f"This reply could not be read aloud. {exc.user_message}")
        return
    if spoken is not None:
        state.autoplay_audio_id = spoken.message.audio_id
    st.rerun()


def _rating(app: AppContext, message: Message) -> None:
    chosen = st.feedback("thumbs", key=f"rate-{message.id}", default=_VALUES.get(message.rating))
    rating: Rating | None = None if chosen is None else ("up" if chosen == 1 else "down")
    if rating != message.rating:
        app.store.feedback.rate(owner_id=app.user.id, message_id=message.id, rating=rating)
        st.toast("Thanks for the feedback." if rating else "Rating removed.")
    if rating == "down":
        with st.form(f"why-{message.id}", border=False, clear_on_submit=False):
            comment = st.text_input(
                "What was wrong? (optional)", value=message.rating_comment or "", max_chars=500
            )
            if st.form_submit_button("Send comment"):
                try:
                    app.store.feedback.rate(
                        owner_id=app.user.id, message_id=message.id, rating="down", comment=comment
                    )
                except VoicechatError as exc:
                    st.error(exc.user_message)
                else:
                    st.toast("Comment saved.")


_VALUES: dict[Rating | None, int | None] = {"up": 1, "down": 0, None: None}
