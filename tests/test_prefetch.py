"""prefetched: order, bounded read-ahead, errors handed over, and a producer that stops with its consumer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from rag_index.cancellation import Cancelled, cancelled_by, checkpoint
from rag_index.index.prefetch import prefetched


def test_items_come_in_order() -> None:
    assert list(prefetched(iter(range(100)), depth=3)) == list(range(100))


def test_the_producer_stays_at_most_depth_items_ahead() -> None:
    produced: list[int] = []

    def counting() -> Iterator[int]:
        for i in range(50):
            produced.append(i)
            yield i

    items = prefetched(counting(), depth=2)
    assert next(items) == 0
    time.sleep(0.3)  # time enough to run ahead, if it were unbounded
    # one item taken, two waiting in the queue, one held by the producer while it waits for room
    assert len(produced) <= 4
    assert list(items) == list(range(1, 50))


def test_a_producer_error_reaches_the_consumer_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad file")

    got: list[int] = []
    with pytest.raises(ValueError, match="bad file"):
        for item in prefetched(failing(), depth=4):
            got.append(item)
    assert got == [1, 2]


def test_closing_the_consumer_stops_the_producer() -> None:
    stopped = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            stopped.set()

    items = prefetched(endless(), depth=2)
    assert next(items) == 0
    items.close()  # what `with contextlib.closing(...)` does when the consumer fails
    assert stopped.wait(5)
    assert not any(t.name == "rag-index-prefetch" for t in threading.enumerate())


def test_a_producer_between_its_items_stops_at_its_next_checkpoint() -> None:
    """A long item (a group being embedded) is cut short at a checkpoint once the consumer has left."""
    steps: list[int] = []
    started, outcome = threading.Event(), []

    def long_item() -> Iterator[int]:
        yield 0
        try:
            for step in range(10_000):
                started.set()
                steps.append(step)
                checkpoint()
                time.sleep(0.001)
            outcome.append("finished")
        except Cancelled:
            outcome.append("cancelled")
            raise
        yield 1

    items = prefetched(long_item(), depth=1)
    assert next(items) == 0
    assert started.wait(5)
    items.close()  # no error reaches anyone: the producer just stops
    assert outcome == ["cancelled"] and len(steps) < 10_000
    assert not any(t.name == "rag-index-prefetch" for t in threading.enumerate())


def test_a_checkpoint_outside_a_cancellable_scope_does_nothing() -> None:
    checkpoint()
    done = threading.Event()
    done.set()
    with cancelled_by(done), pytest.raises(Cancelled):
        checkpoint()
    checkpoint()  # the scope is left: the thread's own work is not cancelled
