"""``make demo``: fill the app's database (the embedded one under VOICECHAT_DATA_DIR, or MONGODB_URI) with
ninety days of believable use, so history, search and the dashboard can be tried at once. Then ``make run``.
Usage: python scripts/demo.py [--days N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicechat.config import Settings  # noqa: E402
from voicechat.demo import seed  # noqa: E402
from voicechat.storage.store import Store  # noqa: E402


def main() -> None:
    """Seed the configured database and say what was written."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    secrets = ROOT / ".streamlit" / "secrets.toml"
    values: dict[str, object] = dict(os.environ)
    if secrets.exists():
        values.update(
            {k: v for k, v in tomllib.loads(secrets.read_text()).items() if not isinstance(v, dict)}
        )
    settings = Settings.from_mapping(values)
    store = Store.open(settings)
    try:
        written = seed(store, days=args.days)
    finally:
        store.close()
    where = "MONGODB_URI" if settings.mongodb_uri else f"the embedded database in {settings.data_dir}"
    print(
        f"demo data written to {where}: {written['conversations']} conversations, {written['messages']} "
        f"messages, {written['events']} usage events, {written['ratings']} ratings over {args.days} days. "
        "Now: make run (you are the admin in local mode; the Usage page shows it all)."
    )


if __name__ == "__main__":
    main()
