"""Concurrent single-text calls encoded together: one forward pass for the queries that wait at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class _Slot:
    text: str
    taken: bool = False  # in a batch that is being encoded
    done: bool = False
    vector: np.ndarray | None = None
    error: BaseException | None = None


class Coalescer:
    """Encodes one text per call; calls that arrive while every lane is busy are encoded in one batch.

    A server answering eight clients embeds eight queries: one by one, each pays a whole forward pass of
    its own; waiting together, the next free lane encodes all of them in one batch, which costs little
    more than one. Nothing waits on a clock: a caller finding a free lane encodes at once (alone, if it
    is alone), and whoever finds its text still waiting when a lane frees up takes every waiting text.
    `lanes` is how many batches the encoder runs side by side (OpenVINO's streams).
    """

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], lanes: int = 1) -> None:
        self._encode = encode
        self._lanes = max(1, lanes)
        self._busy = 0
        self._waiting: list[_Slot] = []
        self._changed = threading.Condition()

    def __call__(self, text: str) -> np.ndarray:
        """The vector of text, encoded alone or with the texts of other callers waiting at the same time."""
        slot = _Slot(text)
        with self._changed:
            self._waiting.append(slot)
            while not slot.taken and self._busy >= self._lanes:
                self._changed.wait()
            if not slot.taken:  # a free lane: take every text waiting, this one included
                batch, self._waiting = self._waiting, []
                for waiting in batch:
                    waiting.taken = True
                self._busy += 1
            else:
                batch = []
        if batch:
            try:
                self._run(batch)
            finally:
                with self._changed:
                    self._busy -= 1
                    self._changed.notify_all()
        with self._changed:
            while not slot.done:
                self._changed.wait()
        if slot.error is not None:
            raise slot.error
        assert slot.vector is not None
        return slot.vector

    def _run(self, batch: list[_Slot]) -> None:
        results: list[Any]
        try:
            results = list(self._encode([slot.text for slot in batch]))
        except Exception as err:  # whatever failed fails its own caller only
            results = [err] if len(batch) == 1 else [self._alone(slot.text) for slot in batch]
        except BaseException as err:  # Ctrl-C in the lane's thread: every caller of the batch hears it
            results = [err] * len(batch)
        with self._changed:
            for slot, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    slot.error = result
                else:
                    slot.vector = result
                slot.done = True
            self._changed.notify_all()

    def _alone(self, text: str) -> np.ndarray | Exception:
        try:
            return self._encode([text])[0]
        except Exception as err:
            return err
