"""Voice preferences: how you talk to the assistant and how it talks back. Saved to your account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import streamlit as st

from ui import context, memory_editor
from ui.state import adopt_preferences
from ui.voice_picker import pick_voice
from voicechat import defaults, preferences
from voicechat.errors import InvalidInput, Refused, VoicechatError
from voicechat.providers.speech_factory import speaker_for
from voicechat.talk.registry import engine_offers
from voicechat.turns.preview import preview_voice

app = context.current()
saved = app.store.users.preferences(app.user.id)
engines = engine_offers(app.settings)
providers = preferences.speech_provider_offers(app.settings)
recognisers = preferences.recognition_provider_offers(app.settings)


def _patience_label(name: str) -> str:
    if name not in defaults.PATIENCE_PAUSES_MS:
        return "Exact (silence only)"
    pause, longest = defaults.PATIENCE_PAUSES_MS[name]
    return f"{name.capitalize()} (asks after {pause} ms, waits up to {longest / 1000:g} s)"


PATIENCE_LABELS = {name: _patience_label(name) for name in preferences.PATIENCE_CHOICES}


def label(options: dict[str, preferences.Offer]) -> Callable[[str], str]:
    """Show why an option cannot be chosen here, next to its name."""
    return lambda name: name if options[name].available else f"{name} (unavailable: {options[name].reason})"


st.title("Voice preferences")
st.caption(
    "Saved to your account and used from your next turn: by push-to-talk on the chat page, and by Talk mode."
)
st.subheader("Voice")
# Outside the form: the voice list follows the provider chosen.
left, right = st.columns(2)
tts = right.selectbox(
    "Text-to-speech provider",
    list(providers),
    index=list(providers).index(saved.tts_provider),
    format_func=label(providers),
)
voice, problem = pick_voice(
    app.settings, tts, saved, where=left, help="Hear it with Preview voice below before saving."
)
if problem:
    st.caption(f"Only the default voice is listed: {problem}.")

with st.form("voice_preferences"):
    cols = st.columns(3)
    speed = cols[1].number_input(
        "Speed",
        value=saved.speed,
        min_value=defaults.SPEECH_SPEED_RANGE[0],
        max_value=defaults.SPEECH_SPEED_RANGE[1],
        step=0.05,
    )
    language = cols[2].text_input(
        "Language", value=saved.language, help="'auto', or a code such as en, fr, pt-BR."
    )
    stt = cols[0].selectbox(
        "Speech-to-text provider",
        list(recognisers),
        index=list(recognisers).index(saved.stt_provider),
        format_func=label(recognisers),
    )
    autoplay = st.toggle("Play spoken replies automatically", value=saved.autoplay)
    st.subheader("Talk mode")
    engine = st.selectbox(
        "Engine",
        list(engines),
        index=list(engines).index(saved.talk_engine),
        format_func=label(engines),
        help=(
            "cascaded: speech-to-text, then the chosen chat model, then text-to-speech (any voice above). "
            "openai-realtime: one OpenAI speech-to-speech model hears and answers (lowest latency; the "
            "voice above if the Realtime API has it). elevenlabs-agent: your team's ElevenLabs agent "
            "(its own voice unless an ElevenLabs voice id is chosen). Conversations, history and usage "
            "are kept the same way for all three."
        ),
    )
    patience = st.radio(
        "Patience",
        preferences.PATIENCE_CHOICES,
        index=preferences.PATIENCE_CHOICES.index(saved.patience),
        format_func=PATIENCE_LABELS.__getitem__,
        horizontal=True,
        help=(
            "How long the assistant lets you pause. With quick, balanced or patient, a short pause asks "
            "an end-of-turn model whether you have finished (it answers at once if you have, and waits up "
            "to the longest silence if you are mid-sentence). Exact ends every turn after the silence set "
            "below."
        ),
    )
    left, right = st.columns(2)
    silence = left.slider(
        "Silence before the end of your turn (ms), with exact patience",
        *defaults.END_OF_TURN_SILENCE_RANGE_MS,
        value=saved.end_of_turn_silence_ms,
        step=50,
    )
    sensitivity = right.slider(
        "Voice detection sensitivity", 0.0, 1.0, value=saved.vad_sensitivity, step=0.05
    )
    barge_in = st.toggle("Let me interrupt the assistant (barge-in)", value=saved.barge_in)
    st.subheader("Assistant")
    persona = st.text_area(
        "Persona (system prompt)",
        value=saved.persona or app.settings.system_prompt,
        height=120,
        help=f"Up to {defaults.MAX_SYSTEM_PROMPT_CHARS:,} characters.",
    )
    greeting = st.text_input("Greeting", value=saved.greeting, help="Spoken when a Talk session starts.")
    buttons = st.columns([1, 1, 4])
    submitted = buttons[0].form_submit_button("Save", type="primary")
    preview = buttons[1].form_submit_button(
        "Preview voice",
        icon=":material/volume_up:",
        disabled=not any(offer.available for offer in providers.values()),
        help="Speaks a sample with the voice, speed and text-to-speech provider above.",
    )

if submitted or preview:
    unavailable = [
        f"{name}: {offers[name].reason}"
        for name, offers in ((stt, recognisers), (tts, providers), (engine, engines))
        if not offers[name].available
    ]
    try:
        if unavailable and submitted:
            raise InvalidInput(
                "Not available on this deployment - " + "; ".join(dict.fromkeys(unavailable)) + "."
            )
        chosen = preferences.validate(
            {
                "voice": voice.strip(),
                "speed": speed,
                "language": language.strip(),
                "stt_provider": stt,
                "tts_provider": tts,
                "talk_engine": engine,
                "end_of_turn_silence_ms": silence,
                "patience": patience,
                "vad_sensitivity": sensitivity,
                "barge_in": barge_in,
                "autoplay": autoplay,
                "persona": None if persona.strip() == app.settings.system_prompt else persona,
                "greeting": greeting,
            }
        )
    except InvalidInput as exc:
        st.error(exc.user_message)
    else:
        if submitted:
            app.store.users.save_preferences(app.user.id, chosen)
            adopt_preferences(chosen, app.settings)
            st.success("Saved. Your next turn uses these preferences.")
        else:
            try:
                context.admit(app, "voice")  # a preview is paid speech: limits and budget apply
                clip = preview_voice(
                    speaker=speaker_for(app.settings, chosen, today=date.today()),
                    store=app.store,
                    user=app.user,
                    prices=app.settings.price_tables,
                )
            except Refused as exc:
                st.error(exc.user_message)
            except VoicechatError as exc:
                st.error(f"The voice preview is not available right now. {exc.user_message}")
            else:
                st.audio(clip, format="audio/wav", autoplay=True)

memory_editor.render(app)
