"""PoolingEmbedder: a local Hugging Face encoder + a pooling strategy + L2 normalization."""

from __future__ import annotations

import contextlib
import importlib.metadata
import itertools
import logging
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from rag_index.cancellation import checkpoint
from rag_index.coalesce import Coalescer
from rag_index.embed.backends import Backend, check_backend, make_backend
from rag_index.embed.graph_pooling import GRAPH_POOLINGS
from rag_index.embed.int8 import Calibration, calibration_key, calibration_texts
from rag_index.embed.model_files import (
    max_sequence_length,
    resolve_model_path,
    resolve_pooling,
    weights_hash,
)
from rag_index.embed.pooling import JOIN, get_pooling
from rag_index.embed.runtime import (
    ONE_TORCH_THREAD,
    TorchThreads,
    cpu_has_int8_dot,
    device_type,
    resolve_batch_tokens,
    resolve_device,
    resolve_dtype,
    torch_dtype,
)
from rag_index.embed.settings import EmbedderConfig
from rag_index.embed.tokenizer import load_tokenizer
from rag_index.errors import ConfigError
from rag_index.settings import validated

if TYPE_CHECKING:
    import torch

    from rag_index.embed.learned import AttentionHead, QueryAdapter

log = logging.getLogger(__name__)

ATTENTION_NEEDS_HEAD = (
    "embedder.pooling: attention needs embedder.attention_head: FILE (a head from rag-index train-pooling)"
)
IDF_MEAN_ONLY_IN_EVAL = (
    "embedder.pooling: idf_mean needs token statistics of the corpus; only `rag-index eval` computes them "
    "(over the evaluated corpus), so use it there"
)


class PoolingEmbedder:
    """Turns texts into float32 vectors with a local transformers encoder and a pooling strategy.

    On the CPU with OpenVINO (the default there), once the model's conversion and tokenizer are cached,
    neither torch nor transformers is imported: a process starts about 2 s sooner.
    """

    idf: torch.Tensor | None = None  # per token id weights for idf_mean, set by fit_idf
    head: AttentionHead | None = None  # the learned token weights of pooling attention
    adapter: QueryAdapter | None = None  # the learned map on query vectors (embedder.query_adapter)
    head_hash = adapter_hash = ""  # hashes of those files (file_hash)

    def __init__(self, model: str | None = None, **settings: Any) -> None:
        """Keyword arguments are the `embedder:` config keys, with the same defaults and checks.

        ``PoolingEmbedder()`` is the default model as the config and the CLI run it; a bad value raises
        ConfigError naming the key, e.g.
        ``embedder.dtype: 'float32' is not one of auto, bf16, fp16, fp32, int8``.
        """
        self.settings = config = validated(EmbedderConfig, {"model": model, **settings}, "embedder.")
        self.model_path = resolve_model_path(model)
        self.model_name = model or "sentence-transformers/all-MiniLM-L6-v2"
        self.pooling = resolve_pooling(self.model_path, config.pooling)
        if self.pooling == "idf_mean":  # its weights come from a corpus: see fit_idf
            raise ConfigError(IDF_MEAN_ONLY_IN_EVAL)
        self.normalize = config.normalize
        self.batch_size = config.batch_size
        self.query_prefix = config.query_prefix
        self.document_prefix = config.document_prefix
        self.trust_remote_code = trust_remote_code = config.trust_remote_code
        if trust_remote_code:
            log.warning("trust_remote_code is on: %s may run code shipped with the model", self.model_path)
        self.device = resolve_device(config.device)
        self.int8 = config.dtype == "int8"
        self.backend_name = check_backend(config.backend, self.device, self.int8)
        self.dtype = resolve_dtype(config.dtype, self.device, self.backend_name)
        self.batch_tokens = config.batch_tokens or resolve_batch_tokens(self.device)
        if self.int8 and not cpu_has_int8_dot():
            log.warning("embedder.dtype: int8 on a CPU without VNNI or AMX: likely no faster than bf16/fp32")
        # what the autos chose on this machine (rag-index -v shows it)
        precision = f"int8 (the rest {self.dtype})" if self.int8 else self.dtype
        log.info("embedder: %s on %s, %s, %s", self.model_name, self.device, self.backend_name, precision)
        self.threads = config.threads
        # Where the graph can pool (OpenVINO; see graph_pooling.py), it does; elsewhere torch pools.
        self.graph_pooling = (
            config.graph_pooling and self.backend_name == "openvino" and self.pooling in GRAPH_POOLINGS
        )
        self.tokenizer, self.facts = load_tokenizer(self.model_path, trust_remote_code)
        model_limit = self.facts.max_position_embeddings
        own_limit = config.max_length or max_sequence_length(self.model_path, model_limit)
        self.max_length = min(own_limit, model_limit)
        self.dimension = self.facts.hidden_size
        # Read and checked now (a wrong file fails at start, naming the key), so torch loads only then.
        if config.attention_head:
            from rag_index.embed.learned import file_hash, load_head

            self.head = load_head(config.attention_head, self.dimension, self.facts.vocab_size, self.weights)
            self.head_hash = file_hash(config.attention_head)
        elif self.pooling == "attention":
            raise ConfigError(ATTENTION_NEEDS_HEAD)
        if config.query_adapter:
            from rag_index.embed.learned import file_hash, load_adapter

            self.adapter = load_adapter(config.query_adapter, self.dimension, self.weights, self.pooling)
            self.adapter_hash = file_hash(config.query_adapter)
        self.calibration = self._calibration() if self.int8 else None
        self.truncated = 0  # texts cut to max_length so far; chunkers are sized so this stays 0
        # The weights load on first use: an unchanged re-index needs the tokenizer and the fingerprint only,
        # and a cached OpenVINO conversion needs no torch model at all.
        self._model: torch.nn.Module | None = None
        self._backend: Backend | None = None
        self._queries: tuple[PoolingEmbedder | None, Coalescer[str, np.ndarray] | None] = (None, None)
        # LangChain may call in from several threads at once; reentrant, as the backend loads the model.
        self._loading = threading.RLock()

    @property
    def model(self) -> torch.nn.Module:
        """The transformers model (loaded on first use)."""
        with self._loading:
            if self._model is None:
                from transformers import AutoModel

                self._model = AutoModel.from_pretrained(
                    self.model_path,
                    local_files_only=True,
                    use_safetensors=True,
                    trust_remote_code=self.trust_remote_code,
                    # OpenVINO converts fp32 weights and applies the precision itself when it compiles.
                    dtype=torch_dtype("fp32" if self.backend_name == "openvino" else self.dtype),
                ).to(self.device)
                self._model.eval()
            return self._model

    @property
    def backend(self) -> Backend:
        """What runs the model's forward pass (loaded on first use)."""
        with self._loading:
            if self._backend is None:
                key = self._conversion_key() if self.backend_name == "openvino" else None
                pooling = (self.pooling, self.normalize, self._head_arrays()) if self.graph_pooling else None
                self._backend = make_backend(
                    self.backend_name,
                    lambda: self.model,
                    self.dtype,
                    self.device,
                    self.threads,
                    key,
                    self.calibration,
                    pooling,
                )
            return self._backend

    def _head_arrays(self) -> dict[str, np.ndarray] | None:
        # The graph computes the head's weights itself (graph_pooling.py): it gets the tensors as constants.
        if self.pooling != "attention" or self.head is None:
            return None
        return {name: self.head.state_dict()[name].numpy() for name in ("a", "b")}

    def _conversion_key(self) -> str:
        # A converted model (OpenVINO) is valid for these weights traced by this transformers version.
        return f"{self.weights}-transformers-{importlib.metadata.version('transformers')}"

    @cached_property
    def weights(self) -> str:
        """The hash of the weight files, read once: every write asks for the fingerprint."""
        return weights_hash(self.model_path)

    def _calibration(self) -> Calibration:
        # The texts are read now (they decide the fingerprint), tokenized as encode() does (truncated at
        # max_length, no prefix) one text per input, and only when the quantized model is not cached yet.
        texts = calibration_texts()

        def inputs() -> list[dict[str, np.ndarray]]:
            ids = self._tokenize(texts)
            return [
                {"input_ids": np.array([row], np.int64), "attention_mask": np.ones((1, len(row)), np.int64)}
                for row in ids
            ]

        return Calibration(calibration_key(texts, self.max_length), inputs)

    @property
    def max_content_tokens(self) -> int:
        """Tokens a document chunk may hold: max_length less special tokens and the document prefix."""
        prefix_tokens = len(self.token_spans(self.document_prefix)) if self.document_prefix else 0
        return self.max_length - self.tokenizer.special_tokens - prefix_tokens

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What makes two vectors comparable: the same model, weights and vector recipe (fingerprint_of)."""
        return self.fingerprint_of(self.pooling)

    def fingerprint_of(self, pooling: str) -> dict[str, Any]:
        """The fingerprint of this embedder's vectors pooled with pooling.

        dtype and device are left out on purpose: they change speed, not the vector space
        (bf16 and fp32 vectors of one model agree to a cosine of about 0.9999). int8 is not: its vectors
        agree with fp32's to a cosine of about 0.99 at worst, so it is part of the fingerprint, with the
        calibration it was quantized on (int8 vectors of another calibration are another model's).
        The query adapter is left out: it maps queries only, so stored vectors stay valid under another.
        """
        int8 = {"quantization": f"int8-{self.calibration.key}"} if self.calibration else {}
        head = {"attention_head": self.head_hash} if pooling == "attention" and self.head else {}
        return {
            "model": self.model_name,
            "weights": self.weights,
            "pooling": pooling,
            "normalize": self.normalize,
            "max_length": self.max_length,
            "dimension": self.dimension * len(pooling.split(JOIN)),  # mean+max: both parts
            "document_prefix": self.document_prefix,
            "query_prefix": self.query_prefix,
            **int8,
            **head,
        }

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of text, special tokens excluded (what chunkers count)."""
        return self.tokenizer.spans(text)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of shape (len(texts), dimension), float32, in the order of texts."""
        return self.encode_pooled(texts, [self.pooling])[self.pooling]

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of documents, with the configured document prefix."""
        return self.encode([self.document_prefix + text for text in texts])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of queries, with the configured query prefix (and query adapter).

        One query (a search) is encoded together with those other threads ask for at the same time
        (see Coalescer): a server's concurrent searches share forward passes.
        """
        if len(texts) == 1:
            return self._coalescer()(texts[0])[None]
        return self._encode_queries(texts)

    def _encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.adapt_queries(self.encode([self.query_prefix + text for text in texts]))

    def _coalescer(self) -> Coalescer[str, np.ndarray]:
        with self._loading:
            owner, coalescer = self._queries
            if owner is not self or coalescer is None:  # none yet, or a copy's (whose prefixes may differ)
                coalescer = Coalescer(self._encode_queries, self.backend.parallel)
                self._queries = (self, coalescer)
            return coalescer

    def adapt_queries(self, vectors: np.ndarray) -> np.ndarray:
        """Pooled query vectors through the query adapter, if one is configured (else unchanged)."""
        if self.adapter is None or len(vectors) == 0:
            return vectors
        import torch

        with torch.inference_mode():
            adapted = self.adapter.adapt(torch.from_numpy(np.ascontiguousarray(vectors)), self.normalize)
        return adapted.numpy().astype(np.float32)

    def encode_pooled(self, texts: Sequence[str], poolings: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors for several poolings from one forward pass per batch (pooling comes after the encoder)."""
        functions = {name: get_pooling(name) for name in poolings}
        width = {name: self.dimension * len(name.split(JOIN)) for name in poolings}  # a+b: both parts
        out = {name: np.empty((len(texts), width[name]), dtype=np.float32) for name in poolings}
        if not texts:
            return out
        if self.graph_pooling and list(poolings) != [self.pooling]:
            raise ConfigError(
                f"embedder.graph_pooling: the graph pools with {self.pooling} only; "
                f"set it to false to compare poolings ({', '.join(poolings)})"
            )
        ids = self._tokenize(texts)
        if self.graph_pooling:  # pooled and normalized by the graph: no torch at all
            for rows, _, _, vectors in self._hidden_states(ids):
                out[self.pooling][rows] = vectors
            return out
        import torch
        import torch.nn.functional as F

        # A backend that runs batches side by side owns the cores; pooling is light work.
        owned = self.backend.parallel > 1 and device_type(self.device) == "cpu"
        with self._torch_threads(owned), torch.inference_mode():
            for rows, ids_array, mask_array, states in self._hidden_states(ids):
                hidden = torch.as_tensor(states)
                input_ids, mask = (torch.from_numpy(a).to(hidden.device) for a in (ids_array, mask_array))
                for name, pool in functions.items():
                    pooled = pool(hidden, self.token_weights(name, input_ids, mask, hidden)).float()
                    if self.normalize:
                        pooled = F.normalize(pooled, p=2, dim=1)
                    out[name][rows] = pooled.cpu().numpy()
        return out

    def token_vectors(self, texts: Sequence[str]) -> Iterator[tuple[int, np.ndarray, torch.Tensor]]:
        """(index in texts, token ids, [tokens, hidden] last hidden states) of each text, real tokens only.

        What training a learned pooling caches: the frozen encoder's output, before any pooling.
        """
        import torch

        if self.graph_pooling:
            raise ConfigError(
                "embedder.graph_pooling: token vectors need the graph unpooled; set it to false"
            )
        for rows, input_ids, mask, states in self._hidden_states(self._tokenize(texts)):
            hidden = torch.as_tensor(states)
            for r, row in enumerate(rows):
                length = int(mask[r].sum())  # padding is on the right
                yield int(row), input_ids[r, :length], hidden[r, :length]

    def _torch_threads(self, owned: bool) -> contextlib.AbstractContextManager[None]:
        # torch's thread count is the process's: set only while this embedder encodes.
        if owned:
            return ONE_TORCH_THREAD
        return TorchThreads(self.threads) if self.threads else contextlib.nullcontext()

    def fit_idf(self, texts: Sequence[str]) -> torch.Tensor:
        """Set the idf_mean weights from the texts of a corpus: log((N + 1) / (df + 1)) + 1 per token id.

        Smoothed as scikit-learn's TfidfVectorizer does, so a token absent from the corpus still weighs > 0.
        """
        import torch

        df = np.zeros(self.facts.vocab_size, dtype=np.float64)
        ids, _ = self.tokenizer.ids(texts, self.max_length)
        for row in ids:
            df[np.unique(row)] += 1
        idf = np.log((len(ids) + 1) / (df + 1)) + 1
        self.idf = torch.from_numpy(idf.astype(np.float32))
        return self.idf

    def token_weights(
        self, pooling: str, input_ids: torch.Tensor, mask: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> torch.Tensor:
        """What a pooling weighs tokens with: the attention mask, or weights (attention, idf_mean, ...)."""
        import torch

        if pooling == "attention":
            if self.head is None or hidden is None:
                raise ConfigError(ATTENTION_NEEDS_HEAD)
            return self.head.weights(hidden, mask, input_ids)

        if pooling == "mean_no_special":
            special = torch.tensor(self.tokenizer.special_ids, device=input_ids.device)
            return mask * ~torch.isin(input_ids, special)
        if pooling == "idf_mean":
            if self.idf is None:
                raise RuntimeError("idf_mean needs corpus statistics: call fit_idf(corpus texts) first")
            return mask * self.idf.to(input_ids.device)[input_ids]
        return mask

    def _tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, cut at max_length (counted in truncated)."""
        ids, cut = self.tokenizer.ids(texts, self.max_length)
        self._count_truncated(cut)
        return ids

    def _count_truncated(self, count: int) -> None:
        if count:
            self.truncated += count
            log.warning("%d text(s) longer than max_length=%d tokens were truncated", count, self.max_length)

    def _hidden_states(
        self, ids: list[list[int]]
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, Any]]:
        """Each batch with its last hidden states, in order, while the backend runs the next ones.

        Up to backend.parallel batches are in the backend at once (OpenVINO runs one per stream), and
        a few more wait ready, so the encoder never waits for the caller's pooling.
        """
        backend = self.backend
        batches = self._batches(ids)
        first = next(batches, None)
        second = next(batches, None)
        if first is None or second is None:  # one batch (queries, a short add): no thread, nothing to overlap
            if first is not None:
                rows, input_ids, mask = first
                yield rows, input_ids, mask, backend.forward(input_ids, mask)
            return
        window = 2 * backend.parallel
        pool = ThreadPoolExecutor(backend.parallel, thread_name_prefix="rag-index-encoder")
        try:
            pending: deque[tuple[tuple[np.ndarray, np.ndarray, np.ndarray], Future[Any]]]
            pending = deque()
            for batch in itertools.chain([first, second], batches):
                checkpoint()  # encoding ahead for a caller that left (Ctrl-C): stop between batches
                pending.append((batch, pool.submit(backend.forward, batch[1], batch[2])))
                if len(pending) >= window:
                    (rows, input_ids, mask), hidden = pending.popleft()
                    yield rows, input_ids, mask, hidden.result()
            for (rows, input_ids, mask), hidden in pending:
                yield rows, input_ids, mask, hidden.result()
        finally:  # after a failure or a cancellation, only the batches already running are waited for
            pool.shutdown(cancel_futures=True)

    def _batches(self, ids: list[list[int]]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        # Longest first, as sentence-transformers does: similar lengths share a batch, so little padding.
        # A batch grows while its padded size (rows x longest row) stays within batch_tokens, so short
        # texts go many to a batch and long ones few, up to batch_size rows.
        # Always pad on the right: BERT-style models number positions from the first column, and for
        # causal models the padding after the last real token cannot be attended to.
        order = np.argsort([-len(row) for row in ids], kind="stable")
        pad_id = self.tokenizer.pad_id
        start = 0
        while start < len(order):
            width = len(ids[order[start]])  # the longest row of the batch, since lengths descend
            count = min(self.batch_size, max(1, self.batch_tokens // max(width, 1)))
            rows = order[start : start + count]
            start += len(rows)
            input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            yield rows, input_ids, mask
