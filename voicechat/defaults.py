"""Every built-in default in one place: models, limits, prices, timeouts.

Settings (``voicechat.config``) override these by name; nothing else repeats them.
"""

from __future__ import annotations

from types import MappingProxyType

# Chat. gpt-6-luna is OpenAI's named replacement for gpt-4o-mini / gpt-4.1-mini (both shut down on
# 2027-01-14) and has no announced shutdown date (checked 2026-11-24 on OpenAI's deprecations page).
DEFAULT_CHAT_MODEL = "gpt-6-luna"
DEFAULT_CHAT_MODELS: tuple[str, ...] = ("gpt-6-luna", "gpt-6.1-terra", "gpt-6.1-sol")
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful, friendly assistant. Answer clearly and concisely; "
    "prefer short paragraphs that read well aloud."
)
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_TIMEOUT_SECONDS = 60.0
OPENAI_MAX_RETRIES = 2

# Input limits.
MAX_MESSAGE_CHARS = 2000
# The most one reply may generate (max_completion_tokens): a runaway reply cannot cost without bound.
MAX_OUTPUT_TOKENS = 4096
MAX_WORD_CHARS = 300  # a longer unbroken "word" is pasted noise, not language (long URLs still fit)
MAX_SYSTEM_PROMPT_CHARS = 4000
MAX_TRANSCRIPT_CHARS = 20_000  # five minutes of fast speech is about 5,000 characters
MAX_TITLE_CHARS = 80

# Conversation context and pages.
CONTEXT_MESSAGES = 30  # last N messages sent to the model and kept hot in the cache
CONTEXT_TTL_SECONDS = 3600
HISTORY_PAGE_SIZE = 20
MESSAGES_PAGE_SIZE = 50
SEARCH_RESULTS = 20
SEARCH_CANDIDATES_PER_TERM = 5000

# Storage.
DEFAULT_DATABASE = "voicechat"
DEFAULT_DATA_DIR = "data"
EMBEDDED_START_TIMEOUT_SECONDS = 30.0
MONGO_SERVER_SELECTION_TIMEOUT_MS = 3000
REDIS_SOCKET_TIMEOUT_SECONDS = 0.5
REDIS_RETRY_AFTER_SECONDS = 1.0

# Local single-user mode (no sign-in configured).
# TURN credentials minted per call stay valid this long: the longest call they must carry.
TURN_TTL_SECONDS = 4 * 3600
LOCAL_USER_EMAIL = "local@localhost"
LOCAL_USER_NAME = "Local user"

# Prices in US dollars. Chat: per 1M tokens (input, output). Each usage event stores its own cost, so a
# price change never re-prices the past.
CHAT_PRICES_PER_MTOK: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {
        "gpt-6-luna": (0.10, 0.50),
        "gpt-6.1-terra": (0.40, 2.00),
        "gpt-6.1-sol": (2.00, 10.00),
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4.1-mini": (0.40, 1.60),
    }
)

# Speech. The speech-endpoint models shut down on 2027-01-06 and OpenAI names gpt-realtime-2.1-mini as their
# replacement, which the speech endpoint does not serve: the "realtime" route reads text aloud with it
# instead, and the "auto" route switches on the speech model's shutdown date (checked 2026-11-24).
DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"
DEFAULT_REALTIME_TTS_MODEL = "gpt-realtime-2.1-mini"
SPEECH_ROUTES: tuple[str, ...] = ("auto", "speech-endpoint", "realtime")
DEFAULT_SPEECH_ROUTE = "auto"
TTS_PRICES_PER_MINUTE: MappingProxyType[str, float] = MappingProxyType(
    {"gpt-4o-mini-tts": 0.015, "tts-1": 0.015, "tts-1-hd": 0.030}
)
# Realtime reader: US dollars per 1M (text input, audio output) tokens.
REALTIME_PRICES_PER_MTOK: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {"gpt-realtime-2.1-mini": (0.60, 20.00), "gpt-realtime-2.1": (4.00, 64.00)}
)
# Replies are synthesised in sentence-aligned pieces of at most this many characters; in Talk mode a long
# sentence is spoken from a comma on, so the first audio never waits for a long first sentence.
SPEECH_CHUNK_CHARS = 1000
LIVE_CLAUSE_CHARS = 160
# Transcription: gpt-transcribe replaces whisper-1 and gpt-4o(-mini)-transcribe (both shut down 2027-02-26).
DEFAULT_STT_MODEL = "gpt-transcribe"
DEFAULT_LIVE_STT_MODEL = (
    "gpt-live-transcribe"  # Talk mode transcribes while the user speaks ("" turns it off)
)
# A live transcription socket that drops is reopened within the call: first after this long, each failed
# attempt doubling the wait up to the longest; a socket that transcribed something, or stayed open the
# healthy time, starts again from the first. Turns are transcribed from their recording meanwhile.
LIVE_RECONNECT_FIRST_SECONDS = 0.5
LIVE_RECONNECT_LONGEST_SECONDS = 10.0
LIVE_RECONNECT_HEALTHY_SECONDS = 10.0
STT_PRICES_PER_MINUTE: MappingProxyType[str, float] = MappingProxyType(
    {
        "gpt-transcribe": 0.0045,
        "gpt-live-transcribe": 0.017,  # streaming (realtime transcription socket), billed per minute of audio
        "gpt-realtime-whisper": 0.017,
        "gpt-4o-transcribe": 0.006,
        "gpt-4o-mini-transcribe": 0.003,
        "whisper-1": 0.006,
    }
)
# ElevenLabs streaming TTS: a voice id and a model; priced per 1,000 characters.
ELEVENLABS_BASE_URL = "https://api.elevenlabs.io"
DEFAULT_ELEVENLABS_VOICE_ID = "JBFqnCBsd6RMkjVDRZzb"
DEFAULT_ELEVENLABS_MODEL = "eleven_flash_v2_5"
ELEVENLABS_PRICES_PER_KCHAR: MappingProxyType[str, float] = MappingProxyType(
    {"eleven_flash_v2_5": 0.05, "eleven_turbo_v2_5": 0.05, "eleven_multilingual_v2": 0.10}
)

# Recorded audio (push-to-talk uploads).
MAX_AUDIO_UPLOAD_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_AUDIO_SECONDS = 300.0
# Declared formats a recording may have (checked before decoding: a 2 Hz stream would expand enormously).
MIN_AUDIO_SAMPLE_RATE = 8_000
MAX_AUDIO_SAMPLE_RATE = 192_000
MAX_AUDIO_CHANNELS = 8
SILENCE_DBFS = -45.0  # a recording whose loudest 30 ms stays below this is "silence only"
STORED_AUDIO_BITRATE = 32_000  # MP3, mono: compact and playable in every browser
PREVIEW_TEXT = "Hello! This is how I will sound when I answer you."

# Announced shutdown dates (YYYY-MM-DD) for models one might still configure; the admin dashboard warns
# when a configured model is within 60 days of its date.
MODEL_SHUTDOWN_DATES: MappingProxyType[str, str] = MappingProxyType(
    {
        "gpt-5": "2026-12-11",
        "gpt-5-mini": "2026-12-11",
        "gpt-5-nano": "2026-12-11",
        "gpt-4o": "2027-01-14",
        "gpt-4o-mini": "2027-01-14",
        "gpt-4.1": "2027-01-14",
        "gpt-4.1-mini": "2027-01-14",
        "gpt-5.1": "2027-04-01",
        # Speech endpoint, realtime and transcription models (OpenAI deprecations page, checked 2026-11-24).
        "tts-1": "2027-01-06",
        "tts-1-hd": "2027-01-06",
        "gpt-4o-mini-tts": "2027-01-06",
        "gpt-realtime": "2027-01-20",
        "gpt-realtime-mini": "2027-01-20",
        "whisper-1": "2027-02-26",
        "gpt-4o-transcribe": "2027-02-26",
        "gpt-4o-mini-transcribe": "2027-02-26",
        "gpt-4o-transcribe-diarize": "2027-02-26",
    }
)

# Voice preferences: defaults and allowed ranges (the preferences page and every voice turn use these).
# Rate limits (the ``limits`` notation): per user for voice and text turns, per client address for signed-out
# use (single-user local mode). Monthly budgets per tier are off unless VOICECHAT_MONTHLY_BUDGETS sets them.
VOICE_RATE_LIMIT = "50/15 minutes"
TEXT_RATE_LIMIT = "20/minute"
ADDRESS_RATE_LIMIT = "60/minute"
TALK_ENGINES: tuple[str, ...] = ("cascaded", "openai-realtime", "elevenlabs-agent")
# Talk mode's speech-to-speech engines. The Realtime engine's turn detection is semantic (ends a turn when the
# words sound finished) unless set to server_vad (silence-based, using the user's end-of-turn silence).
DEFAULT_REALTIME_MODEL = "gpt-realtime-2.1-mini"
REALTIME_TURN_DETECTIONS: tuple[str, ...] = ("semantic_vad", "server_vad")
DEFAULT_REALTIME_TURN_DETECTION = "semantic_vad"
REALTIME_EAGERNESS: tuple[str, ...] = ("auto", "low", "medium", "high")
DEFAULT_REALTIME_EAGERNESS = "auto"
# ElevenLabs Agents bill per minute of conversation; each turn records the call time since the previous one.
ELEVENLABS_AGENT_PRICE_PER_MINUTE = 0.10
ELEVENLABS_AGENT_PATH = "/v1/convai/conversation"
ELEVENLABS_SIGNED_URL_PATH = "/v1/convai/conversation/get-signed-url"
DEFAULT_VOICE = "alloy"
DEFAULT_SPEECH_SPEED = 1.0
SPEECH_SPEED_RANGE = (0.5, 2.0)
DEFAULT_LANGUAGE = "auto"
DEFAULT_END_OF_TURN_SILENCE_MS = 600  # silence-only end of turn ("exact" patience, or no turn model)
# Patience: (pause after which the turn model is asked, longest silence before the turn ends anyway), in ms.
PATIENCE_PAUSES_MS = {"quick": (160, 800), "balanced": (200, 1200), "patient": (350, 2000)}
DEFAULT_PATIENCE = "balanced"
SETTLE_SILENCE_MS = 96  # a silence this long: finish the transcript so far and draft the reply
# The turn model is asked once per silence, at the settling point (about 130 ms after the last word, so its
# answer is there at the pause), and a score of at least this ends the turn at the pause. Measured on the
# benchmark's turn-ending set (48 questions, 60 mid-clause pauses, the local voice): at 0.93, 94% of the
# questions ended early and 5% of the pauses were called finished after the mid-phrase word check (all of them
# "Could you tell me ..."); at the model's own 0.5, or asked again later with more of the silence, it called a
# third of the pauses finished. A question heard through the browser (Opus, echo cancellation) scored 0.970
# where the same clip scored 0.988 clean: the threshold keeps a margin below that.
TURN_COMPLETE_THRESHOLD = 0.93
DRAFT_MIN_WORDS = 2  # no reply is drafted for less than this
FIRST_CLAUSE_CHARS = 24  # the first spoken piece may end at a comma once it is this long
END_OF_TURN_SILENCE_RANGE_MS = (200, 2000)
DEFAULT_VAD_SENSITIVITY = 0.5
MAX_GREETING_CHARS = 300

# OpenAI-compatible servers people run on their own machine, probed (GET /v1/models) when no key is set.
LOCAL_SERVERS = (
    ("Ollama", "http://127.0.0.1:11434/v1"),
    ("LM Studio", "http://127.0.0.1:1234/v1"),
    ("llama.cpp server", "http://127.0.0.1:8080/v1"),
    ("vLLM", "http://127.0.0.1:8000/v1"),
)


# Tools ------------------------------------------------------------------------------------------------
MEMORY_FACTS = 50  # facts remembered per user (the oldest go first)
MEMORY_FACT_CHARS = 200
TOOL_TIMEOUT_SECONDS = 10.0  # one tool call, after which the model is told it timed out
TOOL_RESULT_CHARS = 4_000  # what the model sees of one result (tool output is untrusted and capped)
TOOL_SUMMARY_CHARS = 300  # what is stored and shown of one result
TOOL_CONTEXT_CHARS = 4_000  # earlier turns' tool calls and results sent back as context, at most
TOOL_ARGUMENTS_CHARS = 1_000  # what is stored and shown of one call's arguments
TOOL_ROUNDS = 4  # model -> tools -> model rounds in one reply, at most
TOOL_CONFIRM_SECONDS = 600  # how long a held confirm-first call waits for the user's yes
MCP_RETRY_SECONDS = 30.0  # an unreachable MCP server is tried again after this long
MCP_CONNECT_SECONDS = 10.0
MCP_USER_IDLE_SECONDS = 300.0  # a per-user MCP session (headers with ${user.email}) closes after this idle
MCP_STDERR_LOG_BYTES = 4_096  # of a stdio MCP server's stderr, at most this much is logged (at DEBUG)
TOOL_FILLER = "Let me check."  # said in a call while a tool runs
TOOL_FILLER_AFTER_SECONDS = 0.3  # a tool that answers sooner needs no filler
FEEDBACK_SCAN_LIMIT = 100_000  # ratings read for one dashboard range, at most

# Calls (Talk mode) --------------------------------------------------------------------------------------
MAX_CALLS_PER_USER = 2  # calls one person may have open at once, across every app process
MAX_CALL_MINUTES = 60.0  # a call ends by itself after this long
CALL_END_WARNING_SECONDS = 60.0  # the call says it is about to end this long before it does
CALL_BUDGET_CHECK_SECONDS = 60.0  # how often a call billed by time checks the budget again
CALL_SLOT_TTL_SECONDS = 90.0  # a call's place in the count of open calls lapses unless renewed...
CALL_SLOT_RENEW_SECONDS = 30.0  # ...as the call does this often (a crashed process's calls lapse)
MAX_AUDIO_SPEED = 1.5  # browser audio arriving faster than this many times real time is dropped...
AUDIO_BURST_SECONDS = 1.0  # ...beyond this much audio ahead of that rate (network jitter arrives in bursts)
CALL_INBOX_FRAMES = 1_000  # frames of one call waiting for the audio loop, at most (20 s of 20 ms frames)
USAGE_SETTLED_AFTER_DAYS = 2  # a usage day this old gets no more events: its rollup may be reshaped
CALL_CLOSE_REPLY_SECONDS = 8.0  # a call ending waits this long for a cut reply to be reported...
CALL_CLOSE_TRANSCRIPT_SECONDS = 30.0  # ...and this long for the words of a turn not yet transcribed
