"""`python -m tests.crash_cli POINT:N ARGS...`: the rag-index CLI, SIGKILLed the N-th time it reaches POINT.

`python -m tests.crash_cli pause:POINT:N:MARKER ARGS...`: it creates the file MARKER the N-th time it reaches
POINT and waits there for a signal, so that a test can stop it from outside at that state, not by timing.

The points are the crash-safe writer's (rag_index/storage/writer.py): begun = sources marked in progress,
upserted = one store has a write batch, written = every store has it, deleted = replaced chunks deleted,
committed = sources recorded as done, pruning = a deleted file's entry marked for removal, pruned = removed.
The hook is injected through the CLI's entry point; production code reads no environment for it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable

from rag_index.cli import main


def kill_at(spec: str) -> Callable[[str], None]:
    """A checkpoint that SIGKILLs this process the N-th time it passes POINT ("POINT:N")."""
    name, _, count = spec.partition(":")
    limit, passed = int(count or 1), Counter[str]()

    def checkpoint(point: str) -> None:
        if point == name:
            passed[point] += 1
            if passed[point] >= limit:
                os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


def pause_at(spec: str) -> Callable[[str], None]:
    """A checkpoint that, the N-th time it passes POINT ("POINT:N:MARKER"), creates MARKER and waits for a
    signal (SIGINT then interrupts the run there as Ctrl-C would; SIGKILL ends it)."""
    name, count, marker = spec.split(":", 2)
    limit, passed = int(count), Counter[str]()

    def checkpoint(point: str) -> None:
        if point == name:
            passed[point] += 1
            if passed[point] == limit:
                with open(marker, "w"):
                    pass
                # Short sleeps rather than signal.pause(), which waits for a second signal if the first
                # lands between Python's last check for one and the pause() call.
                while True:
                    time.sleep(0.05)

    return checkpoint


if __name__ == "__main__":
    # A shell starts background jobs with SIGINT ignored, and Python then installs no Ctrl-C handler: the
    # test's SIGINT did nothing and a CI run started in the background hung for 300 s. Restore it here.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    spec, *argv = sys.argv[1:]
    hook = pause_at(spec.removeprefix("pause:")) if spec.startswith("pause:") else kill_at(spec)
    sys.exit(main(argv, checkpoint=hook))
