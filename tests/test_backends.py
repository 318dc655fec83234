"""Speed internals of the embedder give the same vectors: token-budget batching and the OpenVINO backend."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rag_index.config import ConfigError, load_config
from rag_index.embed.backends import BackendError, make_backend
from rag_index.embed.embedder import PoolingEmbedder
from tests.test_embedder import mixed_texts


def test_batches_stay_within_the_token_budget_and_cover_every_row(
    embedder: PoolingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedder, "batch_tokens", 600)
    monkeypatch.setattr(embedder, "batch_size", 16)
    ids = embedder._tokenize(mixed_texts(60, seed=11))
    seen: list[int] = []
    shapes = []
    for rows, input_ids, mask in embedder._batches(ids):
        shapes.append(tuple(input_ids.shape))
        assert input_ids.shape[0] <= 16
        assert input_ids.size <= 600 or input_ids.shape[0] == 1  # a lone row may exceed it
        assert mask.sum(1).tolist() == [len(ids[i]) for i in rows]
        seen.extend(int(i) for i in rows)
    assert sorted(seen) == list(range(60))
    assert any(rows > 8 for rows, _ in shapes), "short texts should share wide batches"
    assert any(rows <= 3 for rows, _ in shapes), "long texts should go few to a batch"


def test_token_budget_batching_gives_the_same_vectors(
    embedder: PoolingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = mixed_texts(50, seed=13)
    by_count = embedder.encode(texts)
    monkeypatch.setattr(embedder, "batch_tokens", 700)
    monkeypatch.setattr(embedder, "batch_size", 256)
    np.testing.assert_allclose(embedder.encode(texts), by_count, atol=2e-5)


@pytest.fixture(scope="module")
def openvino_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty cache home for converted models, shared by this module's OpenVINO tests."""
    pytest.importorskip("openvino", reason="the optional openvino package is not installed")
    return tmp_path_factory.mktemp("xdg-cache")


def openvino_embedder(cache: Path, monkeypatch: pytest.MonkeyPatch) -> PoolingEmbedder:
    """The default model on the OpenVINO backend in bf16, caching its conversion under cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return PoolingEmbedder(device="cpu", backend="openvino", dtype="bf16")


def assert_close_to_fp32(fast: PoolingEmbedder, embedder: PoolingEmbedder) -> None:
    """fast's vectors of 40 mixed-length texts are within a cosine of 0.9999 of fp32 torch's."""
    texts = mixed_texts(40, seed=17)
    ours, reference = fast.encode(texts), embedder.encode(texts)
    assert ours.shape == reference.shape and ours.dtype == np.float32
    cosine = np.sum(ours * reference, axis=1)
    assert cosine.min() >= 0.9999, f"worst cosine {cosine.min():.6f} at text {cosine.argmin()}"


def test_openvino_bf16_vectors_match_torch_fp32(
    embedder: PoolingEmbedder, openvino_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = openvino_embedder(openvino_cache, monkeypatch)
    assert_close_to_fp32(fast, embedder)
    assert fast.fingerprint == embedder.fingerprint  # same vector space: one collection serves both


def test_a_cached_conversion_encodes_without_loading_the_torch_model(
    openvino_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert openvino_embedder(openvino_cache, monkeypatch).backend  # converts, unless a test above did
    cached = openvino_embedder(openvino_cache, monkeypatch)
    assert cached.encode(["read from the cache"]).shape == (1, 384)
    assert cached._model is None  # 3 s of every CLI start: the conversion needs no weights in torch


@pytest.mark.slow  # three conversions of the model
def test_openvino_reuses_its_cached_conversion_and_rebuilds_a_damaged_one(
    embedder: PoolingEmbedder,
    openvino_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert openvino_embedder(openvino_cache, monkeypatch).backend  # converts, unless a test above did
    [cached] = (openvino_cache / "rag-index" / "openvino").glob("*/encoder.xml")
    assert_close_to_fp32(openvino_embedder(openvino_cache, monkeypatch), embedder)  # read from the cache
    cached.write_text("not a model")
    # Half-written copies: one of a writer killed while saving (its process is gone), one being written.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    abandoned = cached.parent.with_name(f"{cached.parent.name}.{dead.stdout.strip()}.partial")
    writing = cached.parent.with_name(f"{cached.parent.name}.{os.getppid()}.partial")
    for partial in (abandoned, writing):
        partial.mkdir()
    with caplog.at_level(logging.WARNING):
        assert_close_to_fp32(openvino_embedder(openvino_cache, monkeypatch), embedder)
    assert "cannot read the cached OpenVINO model" in caplog.text
    assert not abandoned.exists() and writing.exists()  # saving again cleared the killed writer's copy


def test_missing_openvino_names_the_package(
    embedder: PoolingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` raise ImportError
    with pytest.raises(BackendError, match=r"pip install openvino \(or set embedder.backend: torch\)"):
        make_backend("openvino", lambda: embedder.model, "bf16", "cpu", None)


def test_openvino_refuses_a_gpu_device(embedder: PoolingEmbedder) -> None:
    with pytest.raises(BackendError, match="openvino runs on the CPU, not cuda"):
        make_backend("openvino", lambda: embedder.model, "bf16", "cuda", None)


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"embedder\.backend: 'onnx' is not one of auto, openvino, torch"):
        load_config(None, ["embedder.backend=onnx"])
    with pytest.raises(ConfigError, match=r"embedder\.batch_tokens: 0"):
        load_config(None, ["embedder.batch_tokens=0"])


def test_a_missing_backend_package_is_one_line_in_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag_index.cli import main

    monkeypatch.setitem(sys.modules, "openvino", None)
    assert main(["query", "anything", "--set", "embedder.backend=openvino"]) == 2
    assert (
        "rag-index: error: embedder.backend: openvino needs the openvino package" in capsys.readouterr().err
    )


def test_openvino_backend_serves_concurrent_callers() -> None:
    """LangChain's batch() encodes from several threads at once; each caller must get its own vectors."""
    pytest.importorskip("openvino", reason="the optional openvino package is not installed")
    from concurrent.futures import ThreadPoolExecutor

    embedder = PoolingEmbedder(backend="openvino", dtype="bf16", device="cpu")
    texts = [f"question number {i} about grinders and lighthouses" * (1 + i % 4) for i in range(16)]
    alone = embedder.encode(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda text: embedder.encode([text])[0], texts))
    np.testing.assert_allclose(np.vstack(together), alone, atol=1e-3)


def test_openvino_encoding_leaves_torch_threads_as_they_were() -> None:
    """Pooling runs on one torch thread while OpenVINO's streams own the cores; the setting comes back."""
    pytest.importorskip("openvino", reason="the optional openvino package is not installed")
    from concurrent.futures import ThreadPoolExecutor

    # Pooling in torch, not in the graph (which needs no torch thread at all).
    embedder = PoolingEmbedder(backend="openvino", dtype="bf16", device="cpu", graph_pooling=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # so that "one thread while encoding" is a change
    seen: list[int] = []
    real_pool = embedder.token_weights

    def recording(*args: object) -> torch.Tensor:
        seen.append(torch.get_num_threads())
        return real_pool(*args)  # type: ignore[arg-type]

    embedder.token_weights = recording  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda i: embedder.encode([f"text {i} " * (1 + 40 * i)]), range(6)))
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
