"""The call frame's patched frontend: built from the installed streamlit-webrtc, one statement changed."""

from __future__ import annotations

from pathlib import Path

from ui import webrtc_frontend
from ui.webrtc_frontend import (
    START_END,
    START_END_RELEASES,
    START_GUARDED_BY_REF,
    START_GUARDED_BY_STATE,
    build_patched,
    package_frontend,
    patch_start,
)


def _bundle(directory: Path) -> Path:
    [bundle] = (directory / "assets").glob("index-*.js")
    return bundle


def test_the_installed_frontend_is_the_one_the_patch_was_written_for(tmp_path: Path) -> None:
    # Fails first when streamlit-webrtc is upgraded: read its start again before moving the pin.
    assert build_patched(package_frontend(), tmp_path)
    original = _bundle(package_frontend()).read_text(encoding="utf-8")
    patched = _bundle(tmp_path).read_text(encoding="utf-8")
    assert patched.count(START_GUARDED_BY_REF) == 1 and patched.count(START_END_RELEASES) == 1
    assert START_GUARDED_BY_STATE not in patched and START_END not in patched
    # Only the start changed: the rest of the bundle, byte for byte.
    extra = len(START_GUARDED_BY_REF) - len(START_GUARDED_BY_STATE) + len(START_END_RELEASES) - len(START_END)
    assert len(patched) == len(original) + extra
    assert patched.startswith(original.split(START_GUARDED_BY_STATE)[0])
    assert patched.endswith(original.split(START_END)[1])
    # Every other file is copied as it is (the frame's page and its chunks keep their names).
    others = {p.relative_to(package_frontend()) for p in package_frontend().rglob("*") if p.is_file()}
    assert others == {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    for name in others - {_bundle(tmp_path).relative_to(tmp_path)}:
        assert (tmp_path / name).read_bytes() == (package_frontend() / name).read_bytes()


def test_a_bundle_without_the_start_or_with_it_twice_is_left_alone() -> None:
    assert patch_start("console.log(1)") is None
    once = f"a{START_GUARDED_BY_STATE}b{START_END}c"
    assert patch_start(once) == f"a{START_GUARDED_BY_REF}b{START_END_RELEASES}c"
    assert patch_start(once + once) is None


def test_the_process_builds_its_copy_once() -> None:
    first = webrtc_frontend.patched_frontend()
    assert first is not None and first.is_dir()
    assert webrtc_frontend.patched_frontend() == first
    assert START_GUARDED_BY_REF in _bundle(first).read_text(encoding="utf-8")
