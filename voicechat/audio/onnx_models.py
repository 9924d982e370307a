"""Model files run on onnxruntime: checked against their pinned hash, one CPU thread, one session per file."""

from __future__ import annotations

import hashlib

import onnxruntime  # type: ignore[import-untyped]


def pinned_session(model: bytes, *, sha256: str, what: str) -> object:
    """An onnxruntime session for ``model`` (``run`` is thread-safe); RuntimeError if the file is not the
    one pinned by ``sha256`` (``what`` names it in the message)."""
    digest = hashlib.sha256(model).hexdigest()
    if digest != sha256:
        raise RuntimeError(f"the {what} model file does not match its pinned hash ({digest[:12]}...)")
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
