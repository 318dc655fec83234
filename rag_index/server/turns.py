"""Turns: up to n callers at once, the others admitted in the order they came."""

from __future__ import annotations

import threading
from collections import deque


class Turns:
    """A semaphore that keeps the queue's order.

    threading.Semaphore lets a caller that just arrived take a freed slot before the waiter it woke, and
    that waiter then queues again at the back: under steady load some requests lose their turn several
    times. Here a freed slot goes straight to the oldest waiter. Measured on 2 cores, 8 clients: p99
    170-217 ms against 210-254 ms in five alternating runs (docs/benchmarks/serve.md).
    """

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots: expected at least 1, got {slots}")
        self._free = slots
        self._queue: deque[threading.Event] = deque()
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """Callers queued for a slot."""
        return len(self._queue)

    def __enter__(self) -> None:
        with self._lock:
            if self._free and not self._queue:
                self._free -= 1
                return
            turn = threading.Event()
            self._queue.append(turn)
        turn.wait()  # the slot was handed over by the caller who freed it

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._queue:
                self._queue.popleft().set()
            else:
                self._free += 1
