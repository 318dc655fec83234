"""PoolingEmbedder against sentence-transformers, and its handling of order, length and model folders."""

from __future__ import annotations

import json
import logging
import random
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from rag_index.cancellation import Cancelled, cancelled_by
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.embed.model_files import (
    ModelError,
    resolve_model_path,
    resolve_pooling,
    sentence_transformers_pooling,
)
from rag_index.embed.runtime import resolve_dtype
from rag_index.errors import ConfigError
from tests.tiny_model import ARCHITECTURES, make_tiny_model

WORDS = (
    "coffee grinder burr espresso lighthouse harbour signal storm ledger invoice quarter revenue protein "
    "cell membrane enzyme the a of and to in is was with for on by as at from that which data model "
    "vector index chunk query retrieval document page section header table figure result method"
).split()


def mixed_texts(n: int, seed: int = 7) -> list[str]:
    """n texts from 1 to ~300 words (some longer than the 256-token limit), with punctuation."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        length = rng.choice([1, 2, 5, 12, 30, 80, 150, 300]) + i % 7
        words = [rng.choice(WORDS) for _ in range(length)]
        texts.append(" ".join(words).capitalize() + rng.choice([".", "?", "!", ""]))
    return texts


def test_matches_sentence_transformers_on_200_mixed_length_texts(embedder: PoolingEmbedder) -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    texts = mixed_texts(200)
    reference = sentence_transformers.SentenceTransformer(str(embedder.model_path), device="cpu").encode(
        texts, normalize_embeddings=True, batch_size=32
    )
    ours = embedder.encode(texts)
    assert ours.shape == (200, 384) and ours.dtype == np.float32
    cosine = np.sum(ours * reference, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() >= 0.9999, f"worst cosine {cosine.min():.6f} at text {cosine.argmin()}"


def test_order_is_restored_after_length_sorting(embedder: PoolingEmbedder) -> None:
    texts = mixed_texts(40, seed=3)
    together = embedder.encode(texts)
    one_by_one = np.vstack([embedder.encode([text]) for text in texts])
    np.testing.assert_allclose(together, one_by_one, atol=2e-5)


def test_padding_does_not_change_a_vector(embedder: PoolingEmbedder) -> None:
    texts = mixed_texts(12, seed=5)
    batched = embedder.encode_pooled(texts, ["mean", "cls", "last_token", "weighted_mean", "max"])
    for name, vectors in batched.items():
        alone = np.vstack([embedder.encode_pooled([t], [name])[name] for t in texts])
        np.testing.assert_allclose(vectors, alone, atol=2e-5, err_msg=name)


def test_one_forward_pass_feeds_several_poolings(embedder: PoolingEmbedder) -> None:
    texts = ["a short text", "a somewhat longer text about espresso grinders"]
    pooled = embedder.encode_pooled(texts, ["mean", "max"])
    np.testing.assert_allclose(pooled["mean"], embedder.encode(texts), atol=1e-6)
    assert not np.allclose(pooled["mean"], pooled["max"])
    np.testing.assert_allclose(np.linalg.norm(pooled["max"], axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_an_empty_matrix(embedder: PoolingEmbedder) -> None:
    assert embedder.encode([]).shape == (0, embedder.dimension)


def test_truncation_is_counted_not_silent(
    embedder: PoolingEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    before = embedder.truncated
    with caplog.at_level(logging.WARNING):
        embedder.encode(["word " * 600, "short"])
    assert embedder.truncated == before + 1
    assert "truncated" in caplog.text


def test_tokenization_equals_transformers_truncating_at_the_limit(embedder: PoolingEmbedder) -> None:
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(embedder.model_path, local_files_only=True)
    texts = [*mixed_texts(60, seed=19), "", "word " * 2000]
    expected = reference(texts, truncation=True, max_length=embedder.max_length)["input_ids"]
    cut = sum(len(row) > embedder.max_length for row in reference(texts)["input_ids"])
    assert cut > 3  # the check below means something
    before = embedder.truncated
    assert embedder._tokenize(texts) == expected
    assert embedder.truncated == before + cut


def test_the_model_loads_on_first_use_only() -> None:
    embedder = PoolingEmbedder()
    assert embedder.fingerprint["dimension"] == 384 and embedder.max_content_tokens == 254
    assert embedder._backend is None and embedder._model is None  # fingerprint, sizes, spans: no weights
    assert embedder.encode(["loaded now"]).shape == (1, 384)
    assert embedder._backend is not None


def test_token_spans_exclude_special_tokens(embedder: PoolingEmbedder) -> None:
    text = "Grinders grind."
    spans = embedder.token_spans(text)
    assert [text[s:e] for s, e in spans] == ["Grind", "ers", "grind", "."]


def test_a_document_prefix_reduces_the_room_for_content(embedder: PoolingEmbedder) -> None:
    assert embedder.max_content_tokens == 254  # 256 less [CLS] and [SEP]
    prefixed = PoolingEmbedder(model=str(embedder.model_path), document_prefix="passage: ")
    assert prefixed.max_content_tokens == 254 - len(embedder.token_spans("passage: "))


def test_a_local_model_folder_gives_the_same_vectors(embedder: PoolingEmbedder) -> None:
    other = PoolingEmbedder(model=str(embedder.model_path), device="cpu", dtype="fp32", backend="torch")
    np.testing.assert_allclose(other.encode(["same text"]), embedder.encode(["same text"]), atol=1e-6)
    assert other.fingerprint["weights"] == embedder.fingerprint["weights"]


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_any_encoder_architecture_embeds_as_transformers_does(tmp_path: Path, architecture: str) -> None:
    """Mean pooling of transformers' own forward pass, on both CPU backends (OpenVINO compiles the graph)."""
    from transformers import AutoModel, AutoTokenizer

    folder = make_tiny_model(tmp_path / architecture, architecture)
    texts = mixed_texts(6, seed=5)
    model = AutoModel.from_pretrained(folder).eval()
    batch = AutoTokenizer.from_pretrained(folder)(
        texts, padding=True, truncation=True, max_length=256, return_tensors="pt"
    )
    if architecture != "bert":  # these families take no token type ids
        batch.pop("token_type_ids")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    reference = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    for backend in ("openvino", "torch"):
        embedder = PoolingEmbedder(str(folder), backend=backend, dtype="fp32", pooling="mean", max_length=256)
        ours = embedder.encode(texts)
        cosine = np.sum(ours * reference, axis=1)
        assert cosine.min() >= 0.9999, f"{architecture} on {backend}: worst cosine {cosine.min():.6f}"


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a local Hugging Face model folder"):
        resolve_model_path(str(tmp_path / "nowhere"))


def _st_folder(tmp_path: Path, pooling_config: dict[str, object]) -> Path:
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text(
        json.dumps(
            [{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
        )
    )
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config))
    return tmp_path


def test_auto_pooling_reads_the_older_boolean_format(tmp_path: Path) -> None:
    folder = _st_folder(tmp_path, {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    assert resolve_pooling(folder, "auto") == "cls"


@pytest.mark.parametrize(
    ("mode", "expected"), [("lasttoken", "last_token"), ("weightedmean", "weighted_mean")]
)
def test_auto_pooling_reads_the_newer_pooling_mode_format(tmp_path: Path, mode: str, expected: str) -> None:
    assert sentence_transformers_pooling(_st_folder(tmp_path, {"pooling_mode": mode})) == expected


def test_auto_pooling_falls_back_to_mean_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert resolve_pooling(tmp_path, "auto") == "mean"
    assert "using mean pooling" in caplog.text


def test_explicit_pooling_wins_over_the_model_config(embedder: PoolingEmbedder) -> None:
    assert resolve_pooling(embedder.model_path, "max") == "max"
    assert resolve_pooling(embedder.model_path, "auto") == "mean"


def test_dtype_auto_is_fp32_without_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag_index.embed import precision
    from rag_index.embed import runtime as module

    monkeypatch.setattr(module, "cpu_has_native_bf16", lambda: False)
    assert resolve_dtype("auto", "cpu") == "fp32"
    monkeypatch.setattr(module, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(precision, "bf16_pays", lambda flags, backend: True)  # measured: test_precision.py
    assert resolve_dtype("auto", "cpu") == "bf16"
    assert resolve_dtype("fp16", "cpu") == "fp16"


def test_a_cpu_only_torch_is_known_without_importing_it() -> None:
    """device: auto on a CPU-only torch build (as `make install` sets up) costs no torch import."""
    import subprocess
    import sys

    code = "import sys; from rag_index.embed.runtime import cuda_available; "
    code += "print(cuda_available(), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    import torch

    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        assert out.split() == ["False", "False"]
    else:  # a GPU build asks torch itself
        assert out.split() == [str(torch.cuda.is_available()), "True"]


def test_the_tokenizer_serves_threads_that_chunk_and_encode_at_once(embedder: PoolingEmbedder) -> None:
    """A fast tokenizer changes its truncation settings on each call: concurrent calls must not collide."""
    from concurrent.futures import ThreadPoolExecutor

    long_text = "espresso grinder lighthouse harbour " * 200  # 800 words: truncated when encoded
    expected_spans = embedder.token_spans(long_text)
    expected_ids = embedder._tokenize([long_text])

    def spans(_: int) -> bool:
        return embedder.token_spans(long_text) == expected_spans

    def ids(_: int) -> bool:
        return embedder._tokenize([long_text]) == expected_ids

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: (spans if i % 2 else ids)(i), range(400)))
    assert all(results)


def test_the_python_defaults_are_the_configs() -> None:
    from rag_index.config import Config

    embedder = PoolingEmbedder()
    assert embedder.settings == Config().embedder  # one set of defaults: OpenVINO bf16 where it runs


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"dtype": "float32"}, r"embedder\.dtype: 'float32' is not one of auto, bf16, fp16, fp32, int8"),
        ({"backend": "onnx"}, r"embedder\.backend: 'onnx' is not one of auto, openvino, torch"),
        ({"batch_size": 0}, r"embedder\.batch_size: 0: Input should be greater than 0"),
        ({"pooling": "avg"}, r"embedder\.pooling: 'avg' is not one of auto"),
        ({"colour": "red"}, r"embedder\.colour: unknown key"),
    ],
)
def test_a_bad_constructor_value_is_a_config_error(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PoolingEmbedder(**settings)


def test_encoding_for_a_caller_that_left_stops_between_batches(tiny_model: Path) -> None:
    """Ctrl-C while the indexer embeds ahead: the encoder stops at its next batch, not after all of them."""
    embedder = PoolingEmbedder(
        model=str(tiny_model), device="cpu", dtype="fp32", backend="torch", batch_size=1
    )
    forward = embedder.backend.forward
    calls: list[int] = []
    first_call, release = threading.Event(), threading.Event()

    def held_forward(input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        calls.append(len(input_ids))
        first_call.set()
        release.wait(10)  # the first batch runs until the caller has left
        return forward(input_ids, mask)

    embedder.backend.forward = held_forward  # type: ignore[method-assign]
    stop, outcome = threading.Event(), []

    def encode_ahead() -> None:
        with cancelled_by(stop):
            try:
                embedder.encode(mixed_texts(40))
                outcome.append("finished")
            except Cancelled:
                outcome.append("cancelled")

    worker = threading.Thread(target=encode_ahead)
    worker.start()
    assert first_call.wait(10)
    stop.set()  # the caller leaves
    release.set()
    worker.join(10)
    assert outcome == ["cancelled"]
    # the held batch, and at most the one queued behind it (batch_size 1: 40 batches in all)
    assert 1 <= len(calls) <= 2
    embedder.backend.forward = forward  # type: ignore[method-assign]
    assert embedder.encode(mixed_texts(3)).shape[0] == 3  # nothing outside cancelled_by is cancelled


def test_the_runtime_the_autos_chose_is_logged(tiny_model: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rag_index.embed.embedder"):
        PoolingEmbedder(model=str(tiny_model), device="cpu", dtype="fp32", backend="torch")
    assert f"embedder: {tiny_model} on cpu, torch, fp32" in caplog.text


def test_concurrent_queries_each_get_their_own_vector(embedder: PoolingEmbedder) -> None:
    """Searches in several threads share forward passes (see Coalescer): each gets its own query's vector."""
    from concurrent.futures import ThreadPoolExecutor

    words = ("grinder", "kettle", "boiler", "mill")
    queries = [f"how long does the {word} warranty last" for word in words] * 4
    alone = embedder.encode_queries(queries)  # one batch, no coalescing
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda query: embedder.encode_queries([query])[0], queries))
    np.testing.assert_allclose(np.stack(together), alone, atol=1e-5)
