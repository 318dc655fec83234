"""What the lexical index costs an index run: the 20 sec-10q PDFs with lexical.enabled on and off.

Run: python benchmarks/lexical_cost.py [--folder DIR] [--rounds 2]
Each round indexes the folder into two fresh stores with the `rag-index index` command, one with the
lexical index and one without, in alternating order. Prints each run, the median ratio and a JSON line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import SEC10Q, emit, machine, median, require
from end_to_end import rag_index_run

VARIANTS = {"lexical on": ["lexical.enabled=true"], "lexical off": ["lexical.enabled=false"]}


def main() -> None:
    """Alternate the two variants and print their times and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=SEC10Q)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    folder = require(args.folder)
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for round_ in range(args.rounds):
        order = list(VARIANTS) if round_ % 2 == 0 else list(reversed(VARIANTS))
        for name in order:
            run = rag_index_run(folder, VARIANTS[name])
            runs[name].append(run)
            print(f"round {round_ + 1} {name:12s} {run['seconds']:6.1f} s  {run['chunks']} chunks  "
                  f"{run['files_indexed']} files  peak RSS {run['peak_rss_mb']} MB")  # fmt: skip
    on = median([r["seconds"] for r in runs["lexical on"]])
    off = median([r["seconds"] for r in runs["lexical off"]])
    extra = 100 * (on / off - 1)
    print(f"median: lexical on {on:.1f} s, off {off:.1f} s: the lexical index adds {extra:+.1f} %")
    emit(
        {
            "benchmark": "lexical_cost",
            "machine": machine(),
            "on_s": on,
            "off_s": off,
            "ratio": round(on / off, 3),
        }
    )


if __name__ == "__main__":
    main()
