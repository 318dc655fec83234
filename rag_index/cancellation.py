"""Cooperative cancellation: work running ahead in a helper thread stops at its next checkpoint once the
thread it works for has left (an error, Ctrl-C), instead of finishing work nobody will take.

The helper marks its scope with ``cancelled_by(event)``; long loops below it call ``checkpoint()`` between
steps (the encoder does, between batches). Outside such a scope a checkpoint does nothing, so the same code
runs unchanged when called directly.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_scope = threading.local()


class Cancelled(Exception):
    """Raised by a checkpoint of work whose result nobody waits for any more."""


@contextlib.contextmanager
def cancelled_by(event: threading.Event) -> Iterator[None]:
    """Within this block, this thread's checkpoints raise Cancelled once event is set."""
    outer = getattr(_scope, "event", None)
    _scope.event = event
    try:
        yield
    finally:
        _scope.event = outer


def checkpoint() -> None:
    """Raise Cancelled if this thread's work was cancelled (see cancelled_by)."""
    event = getattr(_scope, "event", None)
    if event is not None and event.is_set():
        raise Cancelled
