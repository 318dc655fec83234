"""Concurrent queries share forward passes: Coalescer batches what waits, and each caller gets its own."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rag_index.coalesce import Coalescer
from tests.conftest import wait_until


class GatedEncoder:
    """Encodes each text as [len(text)]; the first batch waits until the test opens the gate."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.entered = threading.Event()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        self.entered.set()
        self.gate.wait()
        if "bad" in texts:
            raise ValueError("cannot encode 'bad'")
        return np.array([[float(len(text))] for text in texts])


def test_queries_waiting_while_the_lane_is_busy_are_encoded_in_one_batch() -> None:
    encoder = GatedEncoder()
    coalesce = Coalescer(encoder, lanes=1)
    texts = ["a", "bb", "ccc", "dddd"]
    with ThreadPoolExecutor(len(texts)) as pool:
        first = pool.submit(coalesce, texts[0])
        encoder.entered.wait()  # the lane is busy with the first text alone
        rest = [pool.submit(coalesce, text) for text in texts[1:]]
        wait_until(lambda: len(coalesce._waiting) == 3)
        encoder.gate.set()
        vectors = [first.result(), *(future.result() for future in rest)]
    assert encoder.batches[0] == ["a"] and sorted(encoder.batches[1]) == ["bb", "ccc", "dddd"]
    assert [float(vector[0]) for vector in vectors] == [1.0, 2.0, 3.0, 4.0]  # each caller its own


def test_a_lone_query_is_encoded_at_once() -> None:
    encoder = GatedEncoder()
    encoder.gate.set()
    assert Coalescer(encoder, lanes=2)("abc")[0] == 3.0
    assert encoder.batches == [["abc"]]


def test_a_text_that_fails_fails_its_own_caller_only() -> None:
    encoder = GatedEncoder()
    coalesce = Coalescer(encoder, lanes=1)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(coalesce, "a")
        encoder.entered.wait()
        good, bad = pool.submit(coalesce, "good"), pool.submit(coalesce, "bad")
        wait_until(lambda: len(coalesce._waiting) == 2)
        encoder.gate.set()
        assert first.result()[0] == 1.0 and good.result()[0] == 4.0
        with pytest.raises(ValueError, match="'bad'"):
            bad.result()
