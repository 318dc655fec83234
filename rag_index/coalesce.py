"""Group commit: calls that arrive while every lane is busy run together, as one batch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Slot(Generic[Item]):
    item: Item
    taken: bool = False  # in a batch that is running
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class Coalescer(Generic[Item, Result]):
    """Runs one item per call; items that arrive while every lane is busy run in one batch after.

    A server answering eight clients embeds eight queries: one by one, each pays a whole forward pass;
    waiting together, the next free lane encodes all of them in one batch, which costs little more than
    one. Memory writes likewise share one commit. Nothing waits on a clock: a caller finding a free lane
    runs at once (alone, if it is alone), and whoever finds its item still waiting when a lane frees up
    takes every waiting item. `lanes`: batches that may run side by side (OpenVINO's streams).
    `isolate`: when a batch of several fails, run each item alone, so a bad item fails its own caller
    only; without it, every caller of the batch gets the error (failures that are not the item's).
    """

    def __init__(
        self, run: Callable[[list[Item]], Iterable[Result]], lanes: int = 1, isolate: bool = True
    ) -> None:
        self._run_batch = run
        self._lanes = max(1, lanes)
        self._isolate = isolate
        self._busy = 0
        self._waiting: list[_Slot[Item]] = []
        self._changed = threading.Condition()

    def __call__(self, item: Item) -> Result:
        """item's result, run alone or in one batch with the items of other callers waiting meanwhile."""
        slot = _Slot(item)
        with self._changed:
            self._waiting.append(slot)
            while not slot.taken and self._busy >= self._lanes:
                self._changed.wait()
            batch: list[_Slot[Item]] = []
            if not slot.taken:  # a free lane: take every item waiting, this one included
                batch, self._waiting = self._waiting, []
                for waiting in batch:
                    waiting.taken = True
                self._busy += 1
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
        result: Result = slot.result
        return result

    def _run(self, batch: list[_Slot[Item]]) -> None:
        outcomes: list[Any]
        try:
            outcomes = list(self._run_batch([slot.item for slot in batch]))
        except Exception as err:
            if self._isolate and len(batch) > 1:
                outcomes = [self._alone(slot.item) for slot in batch]
            else:
                outcomes = [err] * len(batch)
        except BaseException as err:  # Ctrl-C in the lane's thread: every caller of the batch hears it
            outcomes = [err] * len(batch)
        with self._changed:
            for slot, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    slot.error = outcome
                else:
                    slot.result = outcome
                slot.done = True
            self._changed.notify_all()

    def _alone(self, item: Item) -> Result | Exception:
        try:
            return next(iter(self._run_batch([item])))
        except Exception as err:
            return err
