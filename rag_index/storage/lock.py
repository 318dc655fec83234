"""One writer per store: an advisory file lock (flock) held while a run writes.

The kernel drops a flock when its process dies, even by SIGKILL, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from types import TracebackType

from rag_index.errors import LockError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


class StoreLock:
    """A context manager holding the lock file at path; waits up to ``wait`` seconds for another holder."""

    def __init__(self, path: Path, label: str, wait: float = 0.0) -> None:
        self.path = path
        self.label = label
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> StoreLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(fd)
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockError(
                        f"another rag-index (pid {holder}) is writing to {self.label}; "
                        "wait for it to finish, or pass --wait SECONDS"
                    ) from None
                if not announced:
                    log.warning(
                        "another rag-index (pid %s) is writing to %s; waiting up to %g s",
                        holder,
                        self.label,
                        self.wait,
                    )
                    announced = True
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    # The holder writes its pid after locking; a reader may see it empty for a moment.
    return os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
