"""Charts the speed benchmarks draw from their own result (the JSON line they end with): `--plot FILE`.

matplotlib is imported when a chart is drawn (the `notebooks` extra). Each function takes the result dict
the benchmark emits, so a chart can be drawn again from a saved JSON line, or from a published table written
in that shape (scripts/docs_plots.py).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

OURS = "rag-index"
# The pipelines end_to_end.py races, in the order a reader meets them; the labels say what each one is.
PIPELINES = {"rag_index": "rag-index (defaults)", "langchain": "LangChain", "llamaindex": "LlamaIndex"}


def _axes(ax: Any, height: float) -> Any:
    if ax is not None:
        return ax
    import matplotlib

    matplotlib.use("Agg")  # a file is written, nothing is shown
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7.5, height))[1]


def _colour(name: str) -> str:
    """rag-index's bars in the first colour, every peer's in grey: the chart compares one against many."""
    return "C0" if name.startswith(OURS) else "0.6"


def speed_chart(result: dict[str, Any], ax: Any = None, title: str | None = None) -> Any:
    """embed.py's median tokens/s per peer as horizontal bars, fastest on top, and the matmul ceiling."""
    rates = sorted(result["tokens_per_s"].items(), key=lambda item: item[1])
    ax = _axes(ax, 0.6 + 0.45 * len(rates))
    names = [name for name, _ in rates]
    ax.barh(names, [rate for _, rate in rates], color=[_colour(name) for name in names])
    for row, (_, rate) in enumerate(rates):
        ax.text(rate, row, f" {rate:,.0f}", va="center", fontsize="small")
    ceiling = result.get("ceiling_tokens_per_s")
    if ceiling:
        ax.axvline(ceiling, color="C3", linestyle="--", linewidth=1)
        ax.text(ceiling, len(rates) - 0.5, " matmul ceiling", color="C3", fontsize="small", va="top")
        ax.set_xlim(0, max(ceiling, rates[-1][1]) * 1.18)
    else:
        ax.set_xlim(0, rates[-1][1] * 1.18)
    ax.set_xlabel("tokens/s (median of the rounds; higher is faster)")
    ax.set_title(title or f"Embedding speed: {result['texts']:,} SciFact abstracts")
    ax.figure.tight_layout()
    return ax


def end_to_end_chart(result: dict[str, Any], ax: Any = None, title: str | None = None) -> Any:
    """end_to_end.py's wall time per pipeline (median of the runs, each run a dot), with its ratio to ours."""
    runs = {key: [r["seconds"] for r in result[key]] for key in PIPELINES if result.get(key)}
    ax = _axes(ax, 0.6 + 0.5 * len(runs))
    names = [PIPELINES[key] for key in runs]
    medians = [statistics.median(seconds) for seconds in runs.values()]
    ax.barh(names, medians, color=[_colour(name) for name in names])
    for row, (key, seconds) in enumerate(runs.items()):
        ax.plot(seconds, [row] * len(seconds), "k|", markersize=12)
        # as end_to_end.py prints it: the median of the runs' ratios, each run against ours beside it
        paired = [theirs / mine for mine, theirs in zip(runs["rag_index"], seconds, strict=False)]
        ratio = "" if key == "rag_index" else f"  ({statistics.median(paired):.2f}x rag-index)"
        ax.text(
            max(seconds), row, f"  {statistics.median(seconds):.1f} s{ratio}", va="center", fontsize="small"
        )
    ax.invert_yaxis()  # rag-index first, as in the table
    ax.set_xlim(0, max(max(seconds) for seconds in runs.values()) * 1.45)
    ax.set_xlabel("wall time, s (bar: median; ticks: each run; lower is faster)")
    ax.set_title(title or "Indexing the 20 sec-10q PDFs")
    ax.figure.tight_layout()
    return ax


def save(ax: Any, path: Path) -> Path:
    """Write the chart's figure as a PNG small enough for the docs, and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(path, dpi=100)
    plt.close(ax.figure)
    return path
