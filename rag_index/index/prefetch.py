"""Run an iterator ahead of its consumer in a background thread, through a bounded queue."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

from rag_index.cancellation import Cancelled, cancelled_by

T = TypeVar("T")

_DONE = object()


def prefetched(items: Iterator[T], depth: int) -> Generator[T, None, None]:
    """The items of ``items`` in order, produced by a thread that stays at most ``depth`` items ahead.

    An exception in the producer is raised in the consumer at the point it happened. When the consumer
    stops early (break, exception, garbage collection), the producer stops at its next item, or sooner at
    its next checkpoint (see rag_index.cancellation): the encoder stops between batches.
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():  # a bounded wait, so that a consumer that left does not block us forever
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with cancelled_by(stop):
                for item in items:
                    if not offer(item):
                        return
        except Cancelled:  # the consumer left
            return
        except BaseException as err:  # handed to the consumer, which raises it
            offer(_Failure(err))
            return
        offer(_DONE)

    thread = threading.Thread(target=produce, name="rag-index-prefetch", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


class _Failure:
    """An exception raised by the producer, on its way to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
