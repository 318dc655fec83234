"""Working ahead: index the 20 sec-10q PDFs with the parse-ahead and embed-ahead threads and without them.

Run: python benchmarks/overlap.py [--folder DIR] [--pairs 2] [--set KEY=VALUE ...]
Both sides run `index_with_config` in this process into a fresh store, alternated A B A B; B replaces the
pipeline's prefetched() with the plain iterator, so files are parsed, chunked, embedded and written in turn.
Prints each run's seconds, the median ratio B / A and a final JSON line.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from _common import SEC10Q, emit, machine, median, require

import rag_index.index.run as pipeline
from rag_index.config import load_config
from rag_index.index.local import index_with_config

T = TypeVar("T")


def in_line(items: Iterator[T], depth: int) -> Iterator[T]:
    """prefetched() without the thread: each file is parsed (and embedded) when the pipeline asks for it."""
    return items


def timed_index(folder: Path, overrides: list[str], ahead: bool) -> dict[str, Any]:
    """Seconds of one full index of folder into a fresh store, with or without the threads ahead."""
    original = pipeline.prefetched
    if not ahead:
        pipeline.prefetched = in_line  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-overlap-") as store:
            config = load_config(None, [*overrides, f"store.path={store}"])
            started = time.perf_counter()
            report = index_with_config(folder, config, progress=False)
            seconds = time.perf_counter() - started
    finally:
        pipeline.prefetched = original
    return {
        "seconds": round(seconds, 1),
        "files_indexed": report.files_indexed,
        "chunks": report.chunks_written,
    }


def main() -> None:
    """Alternate the two ways over the folder and print seconds and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=SEC10Q)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    folder = require(args.folder)
    ahead, in_turn, ratios = [], [], []
    for pair in range(1, args.pairs + 1):
        ahead.append(timed_index(folder, args.overrides, ahead=True))
        in_turn.append(timed_index(folder, args.overrides, ahead=False))
        ratios.append(in_turn[-1]["seconds"] / ahead[-1]["seconds"])
        print(f"pair {pair}: ahead {ahead[-1]}  in turn {in_turn[-1]}  ratio {ratios[-1]:.3f}", flush=True)
    print(f"in turn / ahead: median {median(ratios):.3f}")
    emit(
        {
            "benchmark": "overlap",
            "machine": machine(),
            "folder": str(args.folder),
            "settings": args.overrides,
            "ahead": ahead,
            "in_turn": in_turn,
            "ratios": [round(r, 3) for r in ratios],
            "median_ratio": median(ratios),
        }
    )


if __name__ == "__main__":
    main()
