"""Progress: a bar with a total, an ETA and the file on a terminal; plain timed lines in a log; --quiet.

The CLI runs as a user runs it: under a pseudo-terminal, and with stderr piped, on the sample corpus in
data/ with the tiny test model.
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import uuid
from collections.abc import Mapping
from pathlib import Path

import chromadb

from rag_index.chunking import make_chunker
from rag_index.config import LoaderConfig
from rag_index.index.progress import ChunkEstimate, RunProgress
from rag_index.index.run import index_folder
from rag_index.storage.chroma import ChromaStore
from tests.conftest import DATA, REPO
from tests.fakes import FakeEmbedder

SOURCES = sorted(p.name for p in DATA.iterdir() if p.suffix != ".json")
LINE = re.compile(r"^indexing: (\d+)/~?(\d+|\?) chunks( \(\d+ %\))?, (\d+\.\d) chunks/s, .+$")


def command(store: Path, model: Path, *extra: str) -> list[str]:
    args = [sys.executable, "-m", "rag_index.cli", "index", str(DATA), *extra]
    for item in (
        f"store.path={store}",
        f"embedder.model={model}",
        "embedder.pooling=mean",
        "chunking.size=40",
    ):
        args += ["--set", item]
    return args


def environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def test_the_estimate_uses_chunks_per_byte_of_the_same_format() -> None:
    estimate = ChunkEstimate({"a.txt": 1000, "b.txt": 3000, "c.pdf": 10_000, "d.md": 500})
    assert estimate.total() is None  # nothing parsed: no ratio yet
    estimate.parsed("a.txt", 10)  # 1 chunk per 100 bytes of text
    assert estimate.total() == 10 + 30 + 100 + 5  # c.pdf and d.md: the only ratio known
    estimate.parsed("c.pdf", 20)  # PDFs hold less text per byte
    assert estimate.total() == 10 + 20 + round(30 + 500 * 30 / 11_000)  # d.md: the ratio over all seen
    assert not estimate.exact and estimate.files_parsed == 2


def test_a_skipped_file_teaches_nothing_and_the_total_ends_exact() -> None:
    estimate = ChunkEstimate({"bad.pdf": 5000, "good.pdf": 1000, "next.pdf": 2000})
    estimate.parsed("bad.pdf", None)
    assert estimate.total() is None
    estimate.parsed("good.pdf", 4)
    assert estimate.total() == 4 + 8
    estimate.parsed("next.pdf", 3)
    assert estimate.exact and estimate.total() == 7


class Recorder:
    """A Progress that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def planned(self, sizes: Mapping[str, int]) -> None:
        self.events.append(("planned", dict(sizes)))

    def parsing(self, source: str) -> None:
        self.events.append(("parsing", source))

    def parsed(self, source: str, chunks: int | None) -> None:
        self.events.append(("parsed", (source, chunks)))

    def written(self, chunks: int) -> None:
        self.events.append(("written", chunks))

    def finish(self) -> None:
        self.events.append(("finish", None))


def test_an_index_run_reports_its_plan_each_file_and_every_chunk_written(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("Harbour lights burn all night. " * 40)
    (root / "b.md").write_text("# Tides\n\nThe tide turns twice a day. " * 30)
    (root / "bad.pdf").write_bytes(b"not a pdf at all")
    embedder = FakeEmbedder()
    store = ChromaStore(str(tmp_path / "store"), f"c-{uuid.uuid4().hex}", client=chromadb.EphemeralClient())
    chunker = make_chunker("recursive", 60, 5, "tokens", embedder, embedder.max_content_tokens)
    recorder = Recorder()
    report = index_folder(root, LoaderConfig(), chunker, embedder, store, progress=recorder)
    kinds = [kind for kind, _ in recorder.events]
    assert kinds[0] == "planned" and kinds[-1] == "finish"
    sizes = {name: (root / name).stat().st_size for name in ("a.txt", "b.md", "bad.pdf")}
    assert recorder.events[0] == ("planned", sizes)
    parsed = dict(value for kind, value in recorder.events if kind == "parsed")  # type: ignore[misc]
    assert parsed["bad.pdf"] is None and parsed["a.txt"] and parsed["b.md"]
    for source in sizes:  # named on the bar before its chunks are known
        assert recorder.events.index(("parsing", source)) < recorder.events.index(
            ("parsed", (source, parsed[source]))
        )
    written = sum(value for kind, value in recorder.events if kind == "written")  # type: ignore[misc]
    assert written == report.chunks_written == parsed["a.txt"] + parsed["b.md"]


def test_off_a_terminal_progress_is_plain_lines_ending_with_the_count() -> None:
    stream = io.StringIO()
    progress = RunProgress(stream=stream, interval=60)
    progress.planned({"a.txt": 100, "b.txt": 300})
    progress.parsing("a.txt")
    progress.parsed("a.txt", 2)
    progress.written(2)
    progress.parsing("b.txt")
    progress.parsed("b.txt", 5)
    progress.written(5)
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1  # a run shorter than the interval: the last line only
    assert lines[0].startswith("indexing: 7/7 chunks (100 %), ") and "2/2 files parsed" in lines[0]
    assert LINE.match(lines[0])


def under_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run args with stderr on a pseudo-terminal 160 columns wide: exit status, stdout, terminal output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # rows, columns
    process = subprocess.Popen(
        args, cwd=REPO, env=environment(), stdout=subprocess.PIPE, stderr=slave, text=True
    )
    os.close(slave)
    received = bytearray()
    while True:
        try:
            block = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not block:
            break
        received += block
    os.close(master)
    stdout = process.stdout.read() if process.stdout else ""
    return process.wait(timeout=300), stdout, received.decode(errors="replace")


def test_under_a_terminal_the_bar_shows_total_eta_and_the_file(tmp_path: Path, tiny_model: Path) -> None:
    status, stdout, terminal = under_a_terminal(command(tmp_path / "store", tiny_model))
    assert status == 0, terminal
    frames = [f for f in terminal.replace("\r\n", "\r").split("\r") if f.startswith("indexing")]
    with_total = [f for f in frames if re.search(r"\| \d+/~?\d+ \[", f)]  # ~: an estimate
    assert with_total, frames
    assert all(re.search(r"\[\d\d:\d\d<(\?|\d\d:\d\d),", f) for f in with_total)  # elapsed<remaining
    final = with_total[-1]
    done, total = map(int, re.search(r"(\d+)/(\d+) \[", final).groups())  # type: ignore[union-attr]
    assert done == total > 0 and "100%" in final and f"{len(SOURCES)}/{len(SOURCES)} files parsed" in final
    assert {name for name in SOURCES if any(f"parsing {name}" in f for f in frames)} == set(SOURCES)
    assert stdout.startswith(f"indexed {len(SOURCES)} file(s), {total} chunk(s)")


WARN_MIDWAY = """
import logging
from rag_index.index.progress import RunProgress
logging.basicConfig(format="%(levelname)s: %(message)s")
progress = RunProgress()
progress.planned({"a.txt": 100, "b.txt": 100})
progress.parsing("a.txt")
logging.getLogger("rag_index").warning("a.txt: something odd")
progress.parsed("a.txt", 3)
progress.finish()
"""


def test_a_warning_under_a_terminal_goes_on_its_own_line_above_the_bar() -> None:
    status, _, terminal = under_a_terminal([sys.executable, "-c", WARN_MIDWAY])
    assert status == 0, terminal
    assert "\rWARNING: a.txt: something odd\r\n" in terminal  # the bar's line cleared, then the warning
    assert terminal.rstrip().split("\r")[-1].startswith("indexing: ")  # and the bar drawn again below


def piped(args: list[str], every: str) -> subprocess.CompletedProcess[str]:
    """Run args with stdout and stderr piped (no terminal), a progress line every `every` seconds."""
    return subprocess.run(
        args,
        cwd=REPO,
        env=environment(RAG_INDEX_PROGRESS_EVERY=every),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_off_a_terminal_lines_come_every_interval_with_count_and_rate(
    tmp_path: Path, tiny_model: Path
) -> None:
    result = piped(command(tmp_path / "store", tiny_model), every="0.05")
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("indexing:")]
    assert len(lines) >= 2, result.stderr
    assert all(LINE.match(line) for line in lines), lines
    done, total = LINE.match(lines[-1]).group(1, 2)  # type: ignore[union-attr]
    assert done == total and int(total) > 0
    assert result.stdout.startswith(f"indexed {len(SOURCES)} file(s), {total} chunk(s)")


def test_quiet_prints_only_the_summary(tmp_path: Path, tiny_model: Path) -> None:
    result = piped(command(tmp_path / "store", tiny_model, "--quiet"), every="0.05")
    assert result.returncode == 0, result.stderr
    assert "indexing" not in result.stderr
    assert result.stdout.startswith("indexed ") and len(result.stdout.splitlines()) == 1


def test_a_bad_interval_is_one_clear_line(tmp_path: Path, tiny_model: Path) -> None:
    result = piped(command(tmp_path / "store", tiny_model), every="soon")
    assert result.returncode == 2
    assert "RAG_INDEX_PROGRESS_EVERY: expected a number of seconds > 0, got 'soon'" in result.stderr
    assert "Traceback" not in result.stderr
