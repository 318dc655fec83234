"""embedder.graph_pooling (on by default): pooling and normalization inside the OpenVINO graph give torch's
vectors; where the graph cannot pool (torch, other poolings), torch pools."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag_index.embed.embedder import PoolingEmbedder
from rag_index.errors import ConfigError
from tests.test_embedder import mixed_texts

pytest.importorskip("openvino", reason="the optional openvino package is not installed")

TEXTS = mixed_texts(40, seed=23)  # mixed lengths: padded rows in most batches


@pytest.fixture(scope="module")
def tiny_model(tiny_model: Path) -> str:
    """The tiny BERT's folder as embedder.model takes it: a string."""
    return str(tiny_model)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_INDEX_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize("normalize", [True, False])
def test_graph_pooling_equals_pooling_in_torch(tiny_model: str, normalize: bool, pooling: str) -> None:
    settings = {
        "device": "cpu",
        "backend": "openvino",
        "dtype": "fp32",
        "normalize": normalize,
        "pooling": pooling,
    }
    in_torch = PoolingEmbedder(tiny_model, graph_pooling=False, **settings)
    in_graph = PoolingEmbedder(tiny_model, **settings)  # the default
    assert in_graph.backend.pooled and not in_torch.backend.pooled
    np.testing.assert_allclose(in_graph.encode(TEXTS), in_torch.encode(TEXTS), atol=1e-5)
    assert in_graph.fingerprint == in_torch.fingerprint


def test_default_model_graph_pooling_in_bf16_matches_torch_fp32(embedder: PoolingEmbedder) -> None:
    in_graph = PoolingEmbedder(device="cpu", backend="openvino", dtype="bf16", graph_pooling=True)
    cosine = np.sum(in_graph.encode(TEXTS) * embedder.encode(TEXTS), axis=1)
    assert cosine.min() >= 0.9999, f"worst cosine {cosine.min():.6f}"


@pytest.mark.parametrize("settings", [{"backend": "torch"}, {"backend": "openvino", "pooling": "max"}])
def test_where_the_graph_cannot_pool_torch_pools(tiny_model: str, settings: dict[str, str]) -> None:
    embedder = PoolingEmbedder(tiny_model, device="cpu", graph_pooling=True, **settings)
    assert not embedder.graph_pooling and not embedder.backend.pooled
    assert embedder.encode(TEXTS[:2]).shape == (2, 32)


def test_graph_pooling_refuses_other_poolings(tiny_model: str) -> None:
    in_graph = PoolingEmbedder(tiny_model, device="cpu", backend="openvino", graph_pooling=True)
    with pytest.raises(ConfigError, match=r"the graph pools with mean only; set it to false to compare"):
        in_graph.encode_pooled(TEXTS[:2], ["mean", "max"])


def test_graph_pooling_over_the_int8_model_equals_pooling_in_torch(
    tiny_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("nncf", reason="int8 needs nncf: pip install -e '.[int8]'")
    import rag_index.embed.int8 as int8

    monkeypatch.setattr(int8, "CALIBRATION_SIZE", 8)
    in_torch = PoolingEmbedder(tiny_model, device="cpu", dtype="int8", graph_pooling=False)
    in_graph = PoolingEmbedder(tiny_model, device="cpu", dtype="int8")  # the cached int8
    np.testing.assert_allclose(in_graph.encode(TEXTS), in_torch.encode(TEXTS), atol=1e-5)
