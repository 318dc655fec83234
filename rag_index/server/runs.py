"""Index runs started over HTTP: a path checked against the configured roots, run in the background.

One run at a time (they would take turns on the store's lock anyway). The run uses its own RagIndex over
the serving one's embedder, so searches go on answering from the serving retriever while it writes. When
the server stops, a run ends at its next parsed file or written batch, as a killed run would, and the next
run of the path finishes the work (the writer is crash-safe), so a stop never waits for a long run.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

from rag_index.api import RagIndex
from rag_index.errors import FieldError, RagIndexError


class Forbidden(RagIndexError):
    """A path the server may not index (outside every root, or no roots configured)."""


class Busy(RagIndexError):
    """Another index run is still going."""


class Stopped(Exception):
    """Raised inside a run when the server stops."""


def allowed_path(requested: str, roots: Sequence[str]) -> Path:
    """The folder or file to index: inside a root once symlinks are resolved, else Forbidden.

    A relative path is taken from the first root; any '..' is refused before resolving anything.
    """
    if not roots:
        raise Forbidden("this server indexes no folder: set server.index_roots in its config")
    if not requested.strip():
        raise FieldError("path: expected a folder or file inside the index roots", "path")
    if ".." in PurePath(requested).parts:
        raise Forbidden(f"path {requested!r}: '..' is not allowed")
    resolved_roots = [Path(root).resolve() for root in roots]
    path = (resolved_roots[0] / requested).resolve()  # an absolute path stays itself
    if not any(path == root or path.is_relative_to(root) for root in resolved_roots):
        listed = ", ".join(str(root) for root in resolved_roots)
        raise Forbidden(f"path {requested!r}: resolves to {path}, outside the index roots ({listed})")
    if not path.exists():
        raise FieldError(f"path {requested!r}: no such file or folder", "path")
    return path


@dataclass
class RunState:
    """One run as GET /index/{run} shows it; its counters move while it runs (StopAware reports to it)."""

    run: str
    path: str
    status: str = "running"  # running | done | failed | stopped
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    files_planned: int = 0
    files_parsed: int = 0
    chunks_written: int = 0
    report: dict[str, Any] | None = None
    error: str | None = None

    def planned(self, sizes: Mapping[str, int]) -> None:
        """The changed files to parse."""
        self.files_planned = len(sizes)

    def parsed(self, source: str, chunks: int | None) -> None:
        """One more file parsed."""
        self.files_parsed += 1

    def written(self, chunks: int) -> None:
        """Chunks embedded and written."""
        self.chunks_written += chunks

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of GET /index/{run}."""
        return asdict(self)


class StopAware:
    """A run's progress that also ends the run, at its next file or batch, once the server stops."""

    def __init__(self, state: RunState, stopping: threading.Event) -> None:
        self.state, self.stopping = state, stopping

    def planned(self, sizes: Mapping[str, int]) -> None:
        """The changed files to parse."""
        self.state.planned(sizes)

    def parsing(self, source: str) -> None:
        """A file's parsing begins: not when the server stops."""
        self._check()

    def parsed(self, source: str, chunks: int | None) -> None:
        """One more file parsed."""
        self.state.parsed(source, chunks)
        self._check()

    def written(self, chunks: int) -> None:
        """A batch written to every store: the run may end here."""
        self.state.written(chunks)
        self._check()

    def finish(self) -> None:
        """Nothing to draw."""

    def _check(self) -> None:
        if self.stopping.is_set():
            raise Stopped


class IndexRuns:
    """The index runs of one server: start one, look one up, stop them with the server."""

    def __init__(self, index: RagIndex, wait: float) -> None:
        self.index = index
        self.wait = wait  # seconds a run waits for another writer of the store
        self.runs: dict[str, RunState] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, requested: str, prune: bool = True) -> RunState:
        """Start indexing requested (checked against server.index_roots) in the background."""
        path = allowed_path(requested, self.index.config.server.index_roots)
        with self._lock:
            if self.stopping.is_set():
                raise Busy("the server is stopping")
            running = [state.run for state in self.runs.values() if state.status == "running"]
            if running:
                raise Busy(f"index run {running[0]} is still running; try again when it is done")
            state = RunState(run=uuid.uuid4().hex[:12], path=str(path))
            self.runs[state.run] = state
            self._thread = threading.Thread(target=self._run, args=(state, path, prune), daemon=True)
            self._thread.start()
        return state

    def get(self, run: str) -> RunState | None:
        """The run with that id (None: no such run since the server started)."""
        return self.runs.get(run)

    def stop(self) -> None:
        """End the current run at its next file or batch, and wait for it (the server is stopping)."""
        with self._lock:
            self.stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self, state: RunState, path: Path, prune: bool) -> None:
        try:
            report = self.index.twin().index(
                path, prune=prune, wait=self.wait, progress=StopAware(state, self.stopping)
            )
        except Stopped:
            state.error = "stopped with the server; the next run of this path finishes the work"
            state.status = "stopped"
        except Exception as err:  # a run's failure is its state; the server goes on
            state.error = str(err) if isinstance(err, RagIndexError) else f"{type(err).__name__}: {err}"
            state.status = "failed"
        else:
            state.report = report.to_dict()
            state.status = "done"
        state.finished_at = datetime.now(UTC).isoformat()
