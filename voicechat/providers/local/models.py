"""The local models, loaded once per process on first use (thread-safe), with their load times.

Whisper tiny.en (CTranslate2, int8 on the CPU) recognises; hibari speaks (neural, 24 kHz, the "heart" voice
carried in its package); SmolLM2-135M-Instruct (GGUF on llama.cpp) answers. Every file is checked against a
pinned SHA-256 before loading. Recognition and generation each run one at a time: on a 2-core machine two at
once only make both slower (and a llama.cpp context is not thread-safe).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from voicechat.providers.local.model_files import (
    HIBARI_HEART,
    SMOLLM2_135M,
    WHISPER_TINY_EN,
    LocalEngineUnavailable,
)

log = logging.getLogger(__name__)
WHISPER_CPU_THREADS = 2
LLAMA_THREADS = 2
LLAMA_CONTEXT_TOKENS = 4096


class LocalModels:
    """A holder for the loaded models; share one per process (``shared_models``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.recognising = threading.Lock()
        self.generating = threading.Lock()
        self._engines: dict[str, Any] = {}
        self._failures: dict[str, LocalEngineUnavailable] = {}
        self.load_seconds: dict[str, float] = {}

    def recogniser(self) -> Any:
        """The Whisper model (a ``faster_whisper.WhisperModel``); raises ``LocalEngineUnavailable``."""
        return self._get("recogniser", _load_whisper)

    def synthesiser(self) -> Any:
        """The hibari voice (a ``hibari.Hibari``); raises ``LocalEngineUnavailable``."""
        return self._get("voice", _load_hibari)

    def chat_model(self) -> Any:
        """The chat model (a ``llama_cpp.Llama``); raises ``LocalEngineUnavailable``."""
        return self._get("chat model", _load_llama)

    def loaded(self, what: str) -> bool:
        """Whether ``recogniser``, ``voice`` or ``chat model`` is in memory already."""
        return what in self._engines

    def close(self) -> None:
        """Free the models that hold native resources (llama.cpp), before the interpreter tears down."""
        with self._lock:
            for engine in self._engines.values():
                closer = getattr(engine, "close", None)
                if callable(closer):
                    closer()
            self._engines.clear()

    def _get(self, what: str, loader: Callable[[], Any]) -> Any:
        with self._lock:
            if what not in self._engines:
                self._engines[what] = self._load(what, loader)
            return self._engines[what]

    def _load(self, what: str, loader: Callable[[], Any]) -> Any:
        failed = self._failures.get(what)
        if failed is not None:  # a failed load is not retried on every turn
            raise failed
        started = time.perf_counter()
        try:
            engine = loader()
        except LocalEngineUnavailable as exc:
            self._failures[what] = exc
            raise
        except Exception as exc:  # an import or runtime failure inside the engine
            log.warning("local %s failed to load: %s", what, type(exc).__name__)
            self._failures[what] = LocalEngineUnavailable(f"The offline {what} could not be loaded.")
            raise self._failures[what] from exc
        self.load_seconds[what] = round(time.perf_counter() - started, 2)
        log.info("local %s loaded in %.2f s", what, self.load_seconds[what])
        return engine


def _load_whisper() -> Any:
    folder = WHISPER_TINY_EN.verified_path()
    from faster_whisper import WhisperModel  # noqa: PLC0415 - heavy; imported only when offline speech is used

    return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=WHISPER_CPU_THREADS)


def _load_hibari() -> Any:
    folder = HIBARI_HEART.verified_path()
    from hibari import Hibari  # noqa: PLC0415 - as above

    voice = Hibari(model=str(folder / "hibari.onnx"))
    voice("Ready.")  # the first call builds the pronunciation tables: do it now, not in the first reply
    return voice


def _load_llama() -> Any:
    folder = SMOLLM2_135M.verified_path()
    try:
        from llama_cpp import Llama  # noqa: PLC0415 - as above; built from source by `make offline`
    except ImportError:
        raise LocalEngineUnavailable(
            "The offline chat engine (llama-cpp-python) is not installed; "
            "run `make offline` (about 9 minutes, once)."
        ) from None
    return Llama(
        model_path=str(folder / SMOLLM2_135M.files[0][0]),
        n_ctx=LLAMA_CONTEXT_TOKENS,
        n_threads=LLAMA_THREADS,
        verbose=False,
    )


_SHARED = LocalModels()  # cheap: nothing loads until first use
atexit.register(_SHARED.close)  # llama.cpp's own finaliser fails when it runs during interpreter shutdown


def shared_models() -> LocalModels:
    """The process's holder (models are loaded once, whoever asks first)."""
    return _SHARED
