"""Each pooling function against hand-computed tensors, with padding on either side."""

from __future__ import annotations

import math

import pytest
import torch

from rag_index.embed.pooling import POOLING, get_pooling

# Two sequences, hidden size 2. Row 0 has 2 real tokens then padding; row 1 has 3 real tokens.
TOKENS = torch.tensor(
    [
        [[1.0, 2.0], [3.0, 6.0], [100.0, 100.0]],
        [[0.0, 1.0], [2.0, -1.0], [4.0, 3.0]],
    ]
)
RIGHT = torch.tensor([[1, 1, 0], [1, 1, 1]])
# The same real tokens with left padding: row 0 is [pad, t0, t1].
TOKENS_LEFT = torch.tensor(
    [
        [[100.0, 100.0], [1.0, 2.0], [3.0, 6.0]],
        [[0.0, 1.0], [2.0, -1.0], [4.0, 3.0]],
    ]
)
LEFT = torch.tensor([[0, 1, 1], [1, 1, 1]])

EXPECTED = {
    "mean": [[2.0, 4.0], [2.0, 1.0]],
    "mean_sqrt_len": [[4.0 / math.sqrt(2), 8.0 / math.sqrt(2)], [6.0 / math.sqrt(3), 3.0 / math.sqrt(3)]],
    # weights 1,2 -> (1*t0 + 2*t1) / 3 ; weights 1,2,3 -> (t0 + 2 t1 + 3 t2) / 6
    "weighted_mean": [[7.0 / 3, 14.0 / 3], [16.0 / 6, 8.0 / 6]],
    "max": [[3.0, 6.0], [4.0, 3.0]],
    "cls": [[1.0, 2.0], [0.0, 1.0]],
    "last_token": [[3.0, 6.0], [4.0, 3.0]],
    # The embedder feeds these three token weights instead of the 0/1 mask; with the mask they are the mean
    # (attention's learned weights: tests/test_learned_pooling.py).
    "attention": [[2.0, 4.0], [2.0, 1.0]],
    "idf_mean": [[2.0, 4.0], [2.0, 1.0]],
    "mean_no_special": [[2.0, 4.0], [2.0, 1.0]],
}


def test_every_registered_pooling_has_a_hand_computed_case() -> None:
    assert set(EXPECTED) == set(POOLING)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pooling_with_right_padding(name: str) -> None:
    out = get_pooling(name)(TOKENS, RIGHT)
    torch.testing.assert_close(out, torch.tensor(EXPECTED[name]))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pooling_with_left_padding(name: str) -> None:
    out = get_pooling(name)(TOKENS_LEFT, LEFT)
    torch.testing.assert_close(out, torch.tensor(EXPECTED[name]))


def test_max_ignores_padding_even_when_real_values_are_negative() -> None:
    tokens = torch.tensor([[[-5.0], [-3.0], [0.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert get_pooling("max")(tokens, mask).item() == -3.0


def test_pooling_keeps_bf16() -> None:
    out = get_pooling("mean")(TOKENS.bfloat16(), RIGHT)
    assert out.dtype == torch.bfloat16


def test_unknown_pooling_names_the_valid_ones() -> None:
    with pytest.raises(
        ValueError, match="'meen'; expected one of attention, cls, idf_mean, last_token, max, mean, "
    ):
        get_pooling("meen")
    with pytest.raises(ValueError, match=r"'maks'; expected one of .* or several joined by '\+'"):
        get_pooling("mean+maks")


def test_idf_mean_is_a_mean_over_token_weights() -> None:
    weights = torch.tensor([[0.5, 1.5, 0.0], [1.0, 0.0, 3.0]])
    expected = torch.tensor([[(0.5 * 1 + 1.5 * 3) / 2, (0.5 * 2 + 1.5 * 6) / 2], [12.0 / 4, 10.0 / 4]])
    torch.testing.assert_close(get_pooling("idf_mean")(TOKENS, weights), expected)


def test_a_concatenation_joins_normalized_parts() -> None:
    out = get_pooling("mean+max")(TOKENS, RIGHT)
    mean, max_ = torch.tensor(EXPECTED["mean"]), torch.tensor(EXPECTED["max"])
    expected = torch.cat(
        [mean / mean.norm(dim=1, keepdim=True), max_ / max_.norm(dim=1, keepdim=True)], dim=1
    )
    torch.testing.assert_close(out, expected)


def test_a_concatenation_refuses_repeats_and_token_weighted_parts() -> None:
    with pytest.raises(ValueError, match="joins distinct poolings"):
        get_pooling("mean+mean")
    with pytest.raises(ValueError, match="joins distinct poolings"):
        get_pooling("idf_mean+max")
