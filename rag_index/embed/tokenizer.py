"""The model's tokenizer and sizes, read without importing transformers (and with it torch) when cached.

Importing transformers costs a process about 2 s, most of it torch, which the OpenVINO path never uses.
So the first load asks transformers (AutoTokenizer, AutoConfig) and keeps what it built in the cache: the
fast tokenizer serialized exactly as transformers made it (normalizer, pre-tokenizer, post-processor) and
the few facts the embedder needs. Later processes read these with the small `tokenizers` package alone, and
both calls run the same Rust code on the same settings, so the token ids are the same (tested).
A Python ("slow") tokenizer or remote code (trust_remote_code) stays with transformers, uncached.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

from rag_index.embed.cache import cache_root, save_folder
from rag_index.embed.model_files import model_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelFacts:
    """What the embedder needs of the model's config besides its weights."""

    hidden_size: int
    max_position_embeddings: int
    vocab_size: int  # the tokenizer's (added tokens included) or the config's, whichever is larger


class Tokenizer(Protocol):
    """What the embedder asks of a tokenizer; calls may come from several threads at once."""

    pad_id: int
    special_ids: list[int]
    special_tokens: int  # added to one text (e.g. [CLS] and [SEP])

    def ids(self, texts: Sequence[str], limit: int) -> tuple[list[list[int]], int]:
        """Each text's first `limit` token ids (special tokens included), and how many were cut."""
        ...

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of text's tokens, special tokens excluded."""
        ...


class FastTokenizer:
    """A Rust `tokenizers.Tokenizer`: transformers' fast tokenizer without transformers around it."""

    def __init__(self, backend: Any, pad_id: int, special_ids: list[int]) -> None:
        backend.no_padding()  # batches are padded by the embedder
        self._backend = backend
        self.pad_id = pad_id
        self.special_ids = special_ids
        self.special_tokens = int(backend.num_special_tokens_to_add(False))
        # Truncation is a setting of the shared Rust object: one call at a time sets and uses it.
        self._lock = threading.Lock()

    def ids(self, texts: Sequence[str], limit: int) -> tuple[list[list[int]], int]:
        with self._lock:
            self._backend.enable_truncation(limit)
            encodings = self._backend.encode_batch(list(texts))
        return [e.ids for e in encodings], sum(1 for e in encodings if e.overflowing)

    def spans(self, text: str) -> list[tuple[int, int]]:
        with self._lock:
            self._backend.no_truncation()  # a whole document: only its chunks are encoded
            encoding = self._backend.encode(text, add_special_tokens=False)
        return [(start, end) for start, end in encoding.offsets if end > start]

    def save(self, folder: Path) -> None:
        (folder / "tokenizer.json").write_text(self._backend.to_str(), encoding="utf-8")


class TransformersTokenizer:
    """A transformers tokenizer (a Python one, or one with remote code), through transformers."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.pad_id = tokenizer.pad_token_id or 0
        self.special_ids = list(tokenizer.all_special_ids)
        self.special_tokens = int(tokenizer.num_special_tokens_to_add(pair=False))
        # A fast tokenizer sets its truncation on the shared Rust object at every call: one at a time.
        self._lock = threading.Lock()

    def ids(self, texts: Sequence[str], limit: int) -> tuple[list[list[int]], int]:
        # Tokenize one token past the limit, and tokenize the rows that reach it again at the limit, so
        # that they keep their closing special token.
        with self._lock:
            ids: list[list[int]] = self._cut(list(texts), limit + 1)
            cut = [i for i, row in enumerate(ids) if len(row) > limit]
            if cut:
                for i, row in zip(cut, self._cut([texts[i] for i in cut], limit), strict=True):
                    ids[i] = row
        return ids, len(cut)

    def _cut(self, texts: list[str], limit: int) -> list[list[int]]:
        return list(self._tokenizer(texts, truncation=True, max_length=limit)["input_ids"])

    def spans(self, text: str) -> list[tuple[int, int]]:
        with self._lock:
            # verbose=False: a whole document is longer than the model's limit; only its chunks are encoded.
            encoded = self._tokenizer(
                text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
            )
        return [(start, end) for start, end in encoded["offset_mapping"] if end > start]


def load_tokenizer(path: Path, trust_remote_code: bool) -> tuple[Tokenizer, ModelFacts]:
    """The model folder's tokenizer and facts: from the cache, else from transformers (then cached)."""
    # The model folder's files and transformers' version decide what transformers builds; tokenizers' version
    # how it is saved and read.
    folder = cache_root() / "tokenizers" / f"{model_state(path)}-tokenizers-{version('tokenizers')}"
    if not trust_remote_code and (cached := _cached(folder)) is not None:
        return cached
    from transformers import AutoConfig, AutoTokenizer

    options = {"local_files_only": True, "trust_remote_code": trust_remote_code}
    tokenizer = AutoTokenizer.from_pretrained(path, **options)
    config = AutoConfig.from_pretrained(path, **options)
    facts = ModelFacts(
        hidden_size=int(config.hidden_size),
        max_position_embeddings=int(getattr(config, "max_position_embeddings", 512)),
        vocab_size=max(len(tokenizer), int(getattr(config, "vocab_size", 0))),
    )
    if trust_remote_code or not getattr(tokenizer, "is_fast", False):
        return TransformersTokenizer(tokenizer), facts
    from tokenizers import Tokenizer as RustTokenizer

    # A copy: transformers' own object keeps its settings, ours starts from the same state.
    backend = RustTokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    fast = FastTokenizer(backend, tokenizer.pad_token_id or 0, list(tokenizer.all_special_ids))
    save_folder(folder, lambda partial: _save(partial, fast, facts))
    return fast, facts


def _save(folder: Path, tokenizer: FastTokenizer, facts: ModelFacts) -> None:
    tokenizer.save(folder)
    about = {"pad_id": tokenizer.pad_id, "special_ids": tokenizer.special_ids, **asdict(facts)}
    (folder / "about.json").write_text(json.dumps(about), encoding="utf-8")


def _cached(folder: Path) -> tuple[FastTokenizer, ModelFacts] | None:
    if not (folder / "about.json").is_file():
        return None
    try:
        from tokenizers import Tokenizer as RustTokenizer

        about = json.loads((folder / "about.json").read_text(encoding="utf-8"))
        backend = RustTokenizer.from_file(str(folder / "tokenizer.json"))
        facts = ModelFacts(about["hidden_size"], about["max_position_embeddings"], about["vocab_size"])
        return FastTokenizer(backend, about["pad_id"], about["special_ids"]), facts
    except Exception as err:  # tokenizers raises plain Exceptions; a damaged cache is rebuilt, not trusted
        log.warning("reading the tokenizer again: cannot read the cached one in %s (%s)", folder, err)
        shutil.rmtree(folder, ignore_errors=True)
        return None
