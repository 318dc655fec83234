"""Unchanged re-index: a second `rag-index index` over the same folder, as a fraction of the first.

Run: python benchmarks/reindex.py [--folder DIR] [--set KEY=VALUE ...]
Both runs use one fresh store. Prints each run's wall time (the whole command: imports and model loading
included) and the run's own `seconds` (from its --json report), the chunks each embedded, the two
fractions, and a final JSON line. An incremental index embeds 0 chunks the second time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from _common import SEC10Q, emit, machine, require
from end_to_end import RAG_INDEX, run_measured


def index_once(folder: Path, store: str, overrides: list[str]) -> dict[str, Any]:
    """One `rag-index index --json` run: wall seconds, peak RSS and its report."""
    command = [str(RAG_INDEX), "index", str(folder), "--json", "--set", f"store.path={store}"]
    for override in overrides:
        command += ["--set", override]
    seconds, rss, stdout = run_measured(command)
    return {"wall_s": round(seconds, 2), "peak_rss_mb": round(rss), "report": json.loads(stdout)}


def main() -> None:
    """Index the folder twice and print the second run as a fraction of the first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=SEC10Q)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    folder = require(args.folder)
    overrides = args.overrides or ["embedder.backend=openvino", "embedder.dtype=auto"]
    with tempfile.TemporaryDirectory(prefix="bench-reindex-") as store:
        runs = [index_once(folder, store, overrides) for _ in range(2)]
    for name, run in zip(("first", "second"), runs, strict=True):
        report = run["report"]
        print(
            f"{name:6s} wall {run['wall_s']:7.1f} s  run {report.get('seconds', 0):7.1f} s  "
            f"files indexed {report.get('files_indexed')} unchanged {report.get('files_unchanged')}  "
            f"chunks embedded {report.get('chunks_embedded', report.get('chunks_written'))}"
        )
    first, second = runs
    wall_fraction = second["wall_s"] / first["wall_s"]
    run_fraction = second["report"].get("seconds", 0) / max(first["report"].get("seconds", 0), 1e-9)
    print(f"second / first: wall {wall_fraction:.1%}, run {run_fraction:.1%}")
    emit(
        {
            "benchmark": "reindex",
            "machine": machine(),
            "settings": overrides,
            "first": {"wall_s": first["wall_s"], **first["report"]},
            "second": {"wall_s": second["wall_s"], **second["report"]},
            "wall_fraction": round(wall_fraction, 4),
            "run_fraction": round(run_fraction, 4),
            "second_embedded": second["report"].get("chunks_embedded"),
        }
    )


if __name__ == "__main__":
    main()
