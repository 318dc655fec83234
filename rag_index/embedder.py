"""PoolingEmbedder: a local Hugging Face encoder + a pooling strategy + L2 normalization."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rag_index.model_files import (
    max_sequence_length,
    resolve_model_path,
    resolve_pooling,
    weights_hash,
)
from rag_index.pooling import get_pooling

log = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(device: str) -> torch.device:
    """'auto' means CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """'auto' means bf16 where the hardware runs it natively (CUDA, AVX-512 BF16 CPUs), else fp32."""
    if dtype != "auto":
        return DTYPES[dtype]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


class PoolingEmbedder:
    """Turns texts into float32 vectors with a local transformers encoder and a pooling strategy."""

    def __init__(
        self,
        model: str | None = None,
        pooling: str = "auto",
        normalize: bool = True,
        max_length: int | None = None,
        batch_size: int = 32,
        dtype: str = "fp32",
        device: str = "auto",
        query_prefix: str = "",
        document_prefix: str = "",
        trust_remote_code: bool = False,
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.model_path = resolve_model_path(model)
        self.model_name = model or "sentence-transformers/all-MiniLM-L6-v2"
        self.pooling = resolve_pooling(self.model_path, pooling)
        self._pool = get_pooling(self.pooling)
        self.normalize = normalize
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        if trust_remote_code:
            log.warning("trust_remote_code is on: %s may run code shipped with the model", self.model_path)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(
            self.model_path, local_files_only=True, trust_remote_code=trust_remote_code
        )
        self.model = AutoModel.from_pretrained(
            self.model_path,
            local_files_only=True,
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            dtype=self.dtype,
        ).to(self.device)
        self.model.eval()
        model_limit = int(getattr(self.model.config, "max_position_embeddings", 512))
        self.max_length = min(max_length or max_sequence_length(self.model_path, model_limit), model_limit)
        self.dimension = int(self.model.config.hidden_size)
        self.truncated = 0  # texts cut to max_length so far; chunkers are sized so this stays 0

    @property
    def max_content_tokens(self) -> int:
        """Tokens a document chunk may hold: max_length less special tokens and the document prefix."""
        prefix_tokens = len(self.token_spans(self.document_prefix)) if self.document_prefix else 0
        return self.max_length - self.tokenizer.num_special_tokens_to_add(pair=False) - prefix_tokens

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What makes two vectors comparable: the same model, weights and vector recipe.

        dtype and device are left out on purpose: they change speed, not the vector space
        (bf16 and fp32 vectors of one model agree to a cosine of about 0.9999).
        """
        return {
            "model": self.model_name,
            "weights": weights_hash(self.model_path),
            "pooling": self.pooling,
            "normalize": self.normalize,
            "max_length": self.max_length,
            "dimension": self.dimension,
            "document_prefix": self.document_prefix,
            "query_prefix": self.query_prefix,
        }

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of text, special tokens excluded (what chunkers count)."""
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [(start, end) for start, end in encoded["offset_mapping"] if end > start]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of shape (len(texts), dimension), float32, in the order of texts."""
        return self.encode_pooled(texts, [self.pooling])[self.pooling]

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of documents, with the configured document prefix."""
        return self.encode([self.document_prefix + text for text in texts])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of queries, with the configured query prefix."""
        return self.encode([self.query_prefix + text for text in texts])

    def encode_pooled(self, texts: Sequence[str], poolings: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors for several poolings from one forward pass per batch (pooling comes after the encoder)."""
        functions = {name: get_pooling(name) for name in poolings}
        out = {name: np.empty((len(texts), self.dimension), dtype=np.float32) for name in poolings}
        if not texts:
            return out
        ids = self._tokenize(texts)
        with torch.inference_mode():
            for rows, input_ids, mask in self._batches(ids):
                hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                for name, pool in functions.items():
                    pooled = pool(hidden, mask).float()
                    if self.normalize:
                        pooled = F.normalize(pooled, p=2, dim=1)
                    out[name][rows] = pooled.cpu().numpy()
        return out

    def _tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        # Tokenize one token past the limit: a row that reaches it was truncated, so it is counted
        # and tokenized again at the limit so that it keeps its closing special token.
        limit = self.max_length
        ids: list[list[int]] = self.tokenizer(list(texts), truncation=True, max_length=limit + 1)["input_ids"]
        cut = [i for i, row in enumerate(ids) if len(row) > limit]
        if cut:
            self.truncated += len(cut)
            log.warning("%d text(s) longer than max_length=%d tokens were truncated", len(cut), limit)
            again = self.tokenizer([texts[i] for i in cut], truncation=True, max_length=limit)["input_ids"]
            for i, row in zip(cut, again, strict=True):
                ids[i] = row
        return ids

    def _batches(self, ids: list[list[int]]) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
        # Longest first, as sentence-transformers does: similar lengths share a batch, so little padding.
        # Always pad on the right: BERT-style models number positions from the first column, and for
        # causal models the padding after the last real token cannot be attended to.
        order = np.argsort([-len(row) for row in ids], kind="stable")
        pad_id = self.tokenizer.pad_token_id or 0
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(ids[i]) for i in rows)
            input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            yield (
                rows,
                torch.from_numpy(input_ids).to(self.device),
                torch.from_numpy(mask).to(self.device),
            )
