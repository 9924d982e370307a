"""The embedded database is its owner's only: its directory is mode 0700, also if it was not before."""

from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path

from tests.fakes.servers import unavailable
from voicechat.storage.embedded import EXECUTABLE, EmbeddedMongo


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_embedded_database_directory_is_private(tmp_path: Path) -> None:
    if shutil.which(EXECUTABLE) is None and not (Path(sys.executable).parent / EXECUTABLE).exists():
        unavailable("SecantusDB is not installed (pip install secantusdb)")
    older = tmp_path / "older" / "embedded-mongo"  # left open to every local user by an earlier version
    older.mkdir(parents=True)
    older.chmod(0o755)
    for data_dir in (tmp_path / "new", tmp_path / "older"):
        server = EmbeddedMongo(data_dir)
        server.attach()
        try:
            assert mode(server.home) == 0o700, data_dir.name
        finally:
            server.detach()
    assert mode(tmp_path / "new" / "embedded-mongo" / "db") == 0o700
