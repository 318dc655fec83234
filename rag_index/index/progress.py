"""Progress of an index run: a bar on a terminal, a plain line every few seconds in a log.

What costs is embedding and writing chunks, so progress counts chunks written. A file's chunk count is
known only once it is parsed (a few files ahead of the encoder); for the changed files not parsed yet it
is estimated from their size in bytes times the chunks per byte of the parsed files of the same format
(PDF bytes hold far less text than Markdown bytes), so the total, and with it the ETA, firms up as parsing
runs and is exact once every file is parsed. An engine reports through the narrow ``Progress`` protocol.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol, TextIO

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

LOG_EVERY = 5.0  # seconds between two progress lines off a terminal
NAME_WIDTH = 40  # characters of a file name shown on the bar: a long path must not wrap the line
# tqdm's own layout, with "~" before a total that is still an estimate.
ESTIMATED_BAR = "{l_bar}{bar}| {n_fmt}/~{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


class Progress(Protocol):
    """What an index run reports as it goes; called from the parsing thread and the writing one."""

    def planned(self, sizes: Mapping[str, int]) -> None:
        """The changed files to parse (source -> size in bytes), once the survey knows them."""

    def parsing(self, source: str) -> None:
        """A file's parsing begins."""

    def parsed(self, source: str, chunks: int | None) -> None:
        """A file was parsed into chunks (None: it was skipped, and says nothing about chunks per byte)."""

    def written(self, chunks: int) -> None:
        """Chunks were embedded and written to every store."""

    def finish(self) -> None:
        """The run is over (done or stopped): the last line is drawn."""


class NoProgress:
    """Reports nothing (the API's default, verify --repair, --quiet)."""

    def planned(self, sizes: Mapping[str, int]) -> None:
        """Nothing to show."""

    def parsing(self, source: str) -> None:
        """Nothing to show."""

    def parsed(self, source: str, chunks: int | None) -> None:
        """Nothing to show."""

    def written(self, chunks: int) -> None:
        """Nothing to show."""

    def finish(self) -> None:
        """Nothing to show."""


class ChunkEstimate:
    """The chunks a run will write: counted for parsed files, estimated from size for the others."""

    def __init__(self, sizes: Mapping[str, int]) -> None:
        self.pending = dict(sizes)  # not parsed yet: source -> bytes
        self.files = len(self.pending)
        self.pending_bytes: defaultdict[str, int] = defaultdict(int)  # by format: totals stay O(formats)
        for source, size in self.pending.items():
            self.pending_bytes[_format(source)] += size
        self.counted = 0  # chunks of the parsed files
        self.seen_bytes: defaultdict[str, int] = defaultdict(int)  # by format, of files that gave chunks
        self.seen_chunks: defaultdict[str, int] = defaultdict(int)

    @property
    def files_parsed(self) -> int:
        """How many of the planned files are parsed (or skipped)."""
        return self.files - len(self.pending)

    @property
    def exact(self) -> bool:
        """Whether every file is parsed, so the total is a count rather than an estimate."""
        return not self.pending

    def parsed(self, source: str, chunks: int | None) -> None:
        """Count a parsed file's chunks; a skipped file adds none and teaches nothing."""
        size = self.pending.pop(source, 0)
        self.pending_bytes[_format(source)] -= size
        if chunks is None:
            return
        self.counted += chunks
        if size > 0:  # an empty file has no ratio to give
            self.seen_bytes[_format(source)] += size
            self.seen_chunks[_format(source)] += chunks

    def total(self) -> int | None:
        """The chunks to write in all; None before any file has given a chunks-per-byte ratio."""
        if not self.pending:
            return self.counted
        all_bytes = sum(self.seen_bytes.values())
        if not all_bytes:
            return None
        overall = sum(self.seen_chunks.values()) / all_bytes  # for a format not seen yet
        guess = 0.0
        for kind, size in self.pending_bytes.items():
            seen = self.seen_bytes.get(kind)
            guess += size * (self.seen_chunks[kind] / seen if seen else overall)
        return self.counted + round(guess)


def _format(source: str) -> str:
    return PurePosixPath(source).suffix.lower()


@dataclass(frozen=True)
class Snapshot:
    """What a display shows: chunks done of a total (None: not known yet), and a note on the files."""

    done: int
    total: int | None
    exact: bool
    note: str


class Display(Protocol):
    """Where progress is drawn."""

    def show(self, snapshot: Snapshot, now: bool) -> None:
        """Take the latest state (now: draw it at once, e.g. a new file name)."""

    def close(self, snapshot: Snapshot) -> None:
        """Draw the last state and let go of the stream."""


class TerminalBar:
    """A tqdm bar on a terminal: done of the (estimated) total, with rate, ETA and a note (the file)."""

    def __init__(self, stream: TextIO, desc: str, unit: str) -> None:
        self.bar = tqdm(desc=desc, unit=unit, file=stream, dynamic_ncols=True)
        # A warning logged meanwhile (a skipped file, a truncation) goes above the bar, not into it.
        self.exits = contextlib.ExitStack()
        self.exits.enter_context(logging_redirect_tqdm())

    def show(self, snapshot: Snapshot, now: bool) -> None:
        """Move the bar (tqdm redraws at most ten times a second unless now)."""
        self.bar.total = snapshot.total
        self.bar.bar_format = None if snapshot.exact or snapshot.total is None else ESTIMATED_BAR
        self.bar.set_postfix_str(snapshot.note, refresh=False)
        if snapshot.done > self.bar.n:
            self.bar.update(snapshot.done - self.bar.n)
        if now:
            self.bar.refresh()

    def close(self, snapshot: Snapshot) -> None:
        """Draw the final state and end the line."""
        self.show(snapshot, now=False)
        self.bar.close()
        self.exits.close()


class LogLines:
    """One plain line every interval seconds (and one at the end): for logs, where bars are garbage."""

    def __init__(self, stream: TextIO, desc: str, unit: str, interval: float) -> None:
        self.stream, self.desc, self.unit, self.interval = stream, desc, unit, interval
        self.started = time.monotonic()
        self.latest = Snapshot(0, None, False, "")
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, name="rag-index-progress", daemon=True)
        self.ticker.start()

    def show(self, snapshot: Snapshot, now: bool) -> None:
        """Keep the state for the next line (lines come by the clock, not by event)."""
        self.latest = snapshot

    def close(self, snapshot: Snapshot) -> None:
        """Stop the clock and print the last line."""
        self.stop.set()
        self.ticker.join()
        self.latest = snapshot
        self._print(final=True)

    def _tick(self) -> None:
        while not self.stop.wait(self.interval):
            self._print(final=False)

    def _print(self, final: bool) -> None:
        state, elapsed = self.latest, time.monotonic() - self.started
        rate = state.done / elapsed if elapsed > 0 else 0.0
        total = "?" if state.total is None else f"{'' if state.exact else '~'}{state.total}"
        line = f"{self.desc}: {state.done}/{total} {self.unit}s"
        if state.total:
            line += f" ({100 * state.done / state.total:.0f} %)"
        line += f", {rate:.1f} {self.unit}s/s, "
        if final:
            line += f"{_clock(elapsed)} elapsed"
        elif state.total is not None and rate > 0:
            line += f"{_clock(max(state.total - state.done, 0) / rate)} left"
        else:
            line += "time left unknown"
        print(f"{line}; {state.note}" if state.note else line, file=self.stream, flush=True)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _short(source: str) -> str:
    """A file name that fits on the bar: its tail when too long."""
    return source if len(source) <= NAME_WIDTH else "..." + source[-(NAME_WIDTH - 3) :]


class RunProgress:
    """An index run's progress, drawn on a Display chosen when the plan is known (none if no work)."""

    def __init__(self, stream: TextIO | None = None, interval: float = LOG_EVERY) -> None:
        self.stream, self.interval = stream, interval
        self.lock = threading.Lock()  # the parsing thread and the writing one report at once
        self.estimate = ChunkEstimate({})
        self.done = 0
        self.current: str | None = None
        self.display: Display | None = None

    def planned(self, sizes: Mapping[str, int]) -> None:
        """Open the display over these files (nothing is drawn for a run with nothing to parse)."""
        with self.lock:
            self.estimate = ChunkEstimate(sizes)
            if sizes and self.display is None:
                self.display = display_for("indexing", "chunk", self.stream, self.interval)
                self._show(now=True)

    def parsing(self, source: str) -> None:
        """Name the file on the bar."""
        with self.lock:
            self.current = source
            self._show(now=True)

    def parsed(self, source: str, chunks: int | None) -> None:
        """Firm up the total."""
        with self.lock:
            self.estimate.parsed(source, chunks)
            if self.current == source:
                self.current = None
            self._show(now=False)

    def written(self, chunks: int) -> None:
        """Advance the bar."""
        with self.lock:
            self.done += chunks
            self._show(now=False)

    def finish(self) -> None:
        """Draw the last state (once)."""
        with self.lock:
            if self.display is not None:
                self.display.close(self._snapshot())
                self.display = None

    def _snapshot(self) -> Snapshot:
        estimate = self.estimate
        note = f"{estimate.files_parsed}/{estimate.files} files parsed"
        if self.current is not None:
            note += f", parsing {_short(self.current)}"
        return Snapshot(self.done, estimate.total(), estimate.exact, note)

    def _show(self, now: bool) -> None:
        if self.display is not None:
            self.display.show(self._snapshot(), now)


def display_for(desc: str, unit: str, stream: TextIO | None = None, interval: float = LOG_EVERY) -> Display:
    """A bar when the stream (default stderr) is a terminal, else a line every interval seconds."""
    stream = stream or sys.stderr
    return TerminalBar(stream, desc, unit) if _is_terminal(stream) else LogLines(stream, desc, unit, interval)


class Meter:
    """A count towards a known total (an evaluation's encoding pass), drawn as an index run's is."""

    def __init__(self, desc: str, unit: str, total: int, enabled: bool = True) -> None:
        self.done, self.total = 0, total
        self.display = display_for(desc, unit) if enabled else None
        self._show()

    def update(self, count: int) -> None:
        """Count more done."""
        self.done += count
        self._show()

    def close(self) -> None:
        """Draw the last state."""
        if self.display is not None:
            self.display.close(Snapshot(self.done, self.total, True, ""))
            self.display = None

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _show(self) -> None:
        if self.display is not None:
            self.display.show(Snapshot(self.done, self.total, True, ""), now=False)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream: not a terminal
        return False


def progress_for(progress: bool | Progress, interval: float = LOG_EVERY) -> Progress:
    """The Progress a run reports to: True draws on stderr (bar or lines), False draws nothing."""
    if isinstance(progress, bool):
        return RunProgress(interval=interval) if progress else NoProgress()
    return progress
