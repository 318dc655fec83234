"""Draw the benchmark pages' charts from their published tables, with the benchmarks' own chart functions.

A re-run draws its chart itself (`embed.py --plot`, `end_to_end.py --plot`, `rag-index eval --suite --plot`);
this script redraws the PNGs in docs/benchmarks/img/ from the figures of the tables on those pages, written
here in the shape each benchmark emits, for as long as no re-run has replaced them (the peers' venv and the
40-minute suite are out of reach of a docs change). Run: python scripts/docs_plots.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "benchmarks" / "img"
sys.path.insert(0, str(ROOT / "benchmarks"))
from _plots import end_to_end_chart, save, speed_chart  # noqa: E402

from rag_index.evaluation.plots import suite_chart  # noqa: E402
from rag_index.evaluation.suite import SuiteReport, SuiteRow  # noqa: E402

MFLOP_PER_TOKEN = 23.4  # all-MiniLM-L6-v2 on SciFact, as embed.py counts it

# docs/benchmarks/embedding-speed.md, 2026-12-02: median tokens/s of 3 rotated rounds, 1,000 abstracts.
EMBED = {
    "AMD EPYC, no AMX (issue 13's CPU), run 2": {
        "texts": 1000,
        "tokens_per_s": {
            "st-torch-fp32": 4171,
            "st-openvino": 18199,
            "fastembed": 7883,
            "rag-index": 21433,
            "rag-index-int8": 27530,
        },
        "ceiling_tokens_per_s": round(601e3 / MFLOP_PER_TOKEN),  # bf16 matmul, 601 GFLOP/s
    },
    "Intel Xeon with AMX": {
        "texts": 1000,
        "tokens_per_s": {
            "st-torch-fp32": 10101,
            "st-openvino": 33765,
            "fastembed": 8856,
            "rag-index": 40083,
            "rag-index-int8": 40357,
        },
        "ceiling_tokens_per_s": round(1509e3 / MFLOP_PER_TOKEN),  # bf16 matmul with AMX, 1,509 GFLOP/s
    },
}

# docs/benchmarks/end-to-end.md, 2026-12-02: wall time of each run, the 20 sec-10q PDFs.
END_TO_END = {
    "Intel Xeon with AMX, 2 runs": {
        "rag_index": [{"seconds": 27.7}, {"seconds": 29.8}],
        "langchain": [{"seconds": 143.0}, {"seconds": 144.6}],
        "llamaindex": [{"seconds": 99.0}, {"seconds": 94.9}],
    },
    "AMD EPYC, no AMX (issue 13's CPU), 1 run": {
        "rag_index": [{"seconds": 44.5}],
        "langchain": [{"seconds": 267.8}],
        "llamaindex": [{"seconds": 140.5}],
    },
}

# docs/benchmarks/quality-suite.md, latest run (2026-12-04): hybrid (default), similarity, lexical.
SUITE = SuiteReport(
    [{"retrieval.search_type": kind} for kind in ("hybrid", "similarity", "lexical")],
    [
        SuiteRow("scifact", "abstracts", "ndcg@10", [0.7087, 0.6457, 0.6823], 300),
        SuiteRow("cranfield", "abstracts", "ndcg@10", [0.4090, 0.3808, 0.3736], 225),
        SuiteRow("cisi", "abstracts", "ndcg@10", [0.4347, 0.4200, 0.3291], 76),
        SuiteRow("med", "abstracts", "ndcg@10", [0.8156, 0.7881, 0.7150], 30),
        SuiteRow("cosqa", "code search", "ndcg@10", [0.5847, 0.5925, 0.3964], 500),
        SuiteRow("sec-10q", "document QA: filings", "mrr@10", [0.7884, 0.6558, 0.4786], 195),
        SuiteRow("sec-10q", "document QA: filings", "recall@5", [0.9872, 0.9115, 0.6410], 195),
        SuiteRow("covid-qa", "document QA: long articles", "mrr@10", [0.7862, 0.6577, 0.8116], 1380),
        SuiteRow("memories", "mixed store, memory questions", "hit@1", [0.5833, 0.5000, 0.5333], 300),
        SuiteRow("memories+filings", "mixed store, memory questions", "hit@1", [0.8033, 0.7767, 0.8067], 300),
        SuiteRow("memories+filings", "mixed store, file questions", "hit@1", [0.7385, 0.4718, 0.3128], 195),
        SuiteRow("texts+sample", "mixed store, file questions", "hit@1", [0.9091, 0.9091, 0.9091], 11),
        SuiteRow("sample+memories", "mixed store, memory questions", "hit@1", [0.8333, 0.8333, 0.5000], 12),
        SuiteRow("sample+memories", "mixed store, file questions", "hit@1", [1.0000, 0.9091, 0.9091], 11),
    ],
)


def _panels(count: int, height: float) -> list[Any]:
    axes = plt.subplots(count, 1, figsize=(7.5, height * count))[1]
    return list(axes)


def main() -> None:
    """Write the three charts and print each file's size."""
    axes = _panels(len(EMBED), 2.9)
    for ax, (machine, result) in zip(axes, EMBED.items(), strict=True):
        speed_chart(result, ax, f"{machine}: 1,000 SciFact abstracts")
    written = [save(axes[0], IMAGES / "embedding-speed.png")]
    axes = _panels(len(END_TO_END), 2.0)
    for ax, (machine, result) in zip(axes, END_TO_END.items(), strict=True):
        end_to_end_chart(result, ax, f"{machine}: the 20 sec-10q PDFs")
    written.append(save(axes[0], IMAGES / "end-to-end.png"))
    written.append(save(suite_chart(SUITE, title="Quality suite, 2026-12-04"), IMAGES / "quality-suite.png"))
    for path in written:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
