"""Poolings beyond the standard ones: idf_mean, mean without special tokens, concatenations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rag_index.cli import main
from rag_index.config import ConfigError, load_config
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.embed.pooling import get_pooling

TEXTS = ["Espresso is brewed under pressure.", "Green tea", "Sourdough rises with wild yeast and bacteria."]


@pytest.fixture(scope="module")
def reference(embedder: PoolingEmbedder) -> Any:
    """transformers' own tokenizer of the model."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(embedder.model_path, local_files_only=True)


def hidden_states(embedder: PoolingEmbedder, tokenizer: Any, text: str) -> tuple[list[int], torch.Tensor]:
    """Token ids and last hidden states of one text, straight from the model."""
    encoded = tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        hidden = embedder.model(**encoded).last_hidden_state[0]
    return encoded["input_ids"][0].tolist(), hidden


def unit(vector: torch.Tensor) -> np.ndarray:
    return F.normalize(vector.float(), dim=0).numpy()


def test_mean_no_special_leaves_out_cls_and_sep(embedder: PoolingEmbedder, reference: Any) -> None:
    vectors = embedder.encode_pooled(TEXTS, ["mean_no_special", "mean"])
    for row, text in enumerate(TEXTS):
        ids, hidden = hidden_states(embedder, reference, text)
        assert ids[0] == reference.cls_token_id and ids[-1] == reference.sep_token_id
        np.testing.assert_allclose(vectors["mean_no_special"][row], unit(hidden[1:-1].mean(0)), atol=1e-5)
        np.testing.assert_allclose(vectors["mean"][row], unit(hidden.mean(0)), atol=1e-5)


def test_idf_mean_weighs_tokens_by_corpus_idf(embedder: PoolingEmbedder, reference: Any) -> None:
    corpus = ["the tea", "the coffee", "the bread", "green tea"]
    try:
        idf = embedder.fit_idf(corpus)
        the, green = reference.convert_tokens_to_ids(["the", "green"])
        # smoothed idf: log((N + 1) / (df + 1)) + 1 with N = 4; [CLS] is in every text
        assert idf[the].item() == pytest.approx(np.log(5 / 4) + 1)
        assert idf[green].item() == pytest.approx(np.log(5 / 2) + 1)
        assert idf[reference.cls_token_id].item() == pytest.approx(1.0)
        vectors = embedder.encode_pooled(TEXTS, ["idf_mean"])["idf_mean"]
    finally:
        embedder.idf = None  # the session embedder is shared with other tests
    for row, text in enumerate(TEXTS):
        ids, hidden = hidden_states(embedder, reference, text)
        weights = idf[ids].unsqueeze(1)
        np.testing.assert_allclose(vectors[row], unit((hidden * weights).sum(0) / weights.sum()), atol=1e-5)


def test_idf_mean_without_corpus_statistics_is_refused(embedder: PoolingEmbedder) -> None:
    with pytest.raises(RuntimeError, match=r"call fit_idf\(corpus texts\) first"):
        embedder.encode_pooled(TEXTS, ["idf_mean"])
    with pytest.raises(ConfigError, match="only `rag-index eval` computes them"):
        PoolingEmbedder(pooling="idf_mean", device="cpu")


def test_index_with_idf_mean_is_one_clear_line(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["index", "data", "--set", f"store.path={tmp_path}", "--set", "embedder.pooling=idf_mean"]) == 2
    )
    assert "idf_mean needs token statistics of the corpus" in capsys.readouterr().err


def test_concatenation_joins_normalized_parts(embedder: PoolingEmbedder) -> None:
    vectors = embedder.encode_pooled(TEXTS, ["mean+max", "mean", "max"])
    assert vectors["mean+max"].shape == (len(TEXTS), 2 * embedder.dimension)
    # each part has norm 1 before the whole is normalized, so each is the part's vector / sqrt(2)
    half = vectors["mean+max"] * np.sqrt(2)
    np.testing.assert_allclose(half[:, : embedder.dimension], vectors["mean"], atol=1e-5)
    np.testing.assert_allclose(half[:, embedder.dimension :], vectors["max"], atol=1e-5)


def test_concatenation_on_hand_computed_tensors() -> None:
    tokens = torch.tensor([[[3.0, 4.0], [0.0, 0.0]]])
    mask = torch.tensor([[1, 0]])
    out = get_pooling("mean+cls")(tokens, mask)
    torch.testing.assert_close(out, torch.tensor([[0.6, 0.8, 0.6, 0.8]]))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "mean+meen",
            r"unknown pooling 'meen'; expected one of attention, cls, idf_mean, .* or several joined by '\+'",
        ),
        ("mean+mean", "a concatenation joins distinct poolings"),
        (
            "mean_no_special+max",
            "a concatenation joins distinct poolings, not attention, idf_mean, mean_no_special",
        ),
    ],
)
def test_bad_concatenations_say_why(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_pooling(name)


def test_config_accepts_new_poolings_and_lists_them() -> None:
    for name in ("idf_mean", "mean_no_special", "mean+max", "mean+cls"):
        assert load_config(overrides=[f"embedder.pooling={name}"]).embedder.pooling == name
    with pytest.raises(
        ConfigError, match=r"'meen' is not one of auto, attention, cls, idf_mean, .*mean_no_special"
    ):
        load_config(overrides=["embedder.pooling=meen"])
