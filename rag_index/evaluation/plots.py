"""Charts of an EvalReport for the notebooks (matplotlib is imported only when a chart is drawn)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rag_index.evaluation.runner import EvalReport


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("charts need matplotlib: pip install 'rag-index[notebooks]'") from None
    return plt.subplots(figsize=(8, 4))[1]


def _label(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{key.rpartition('.')[2]}={value}" for key, value in params.items()) or "default"


def bar_chart(
    report: EvalReport,
    metric: str = "ndcg@10",
    reference: Mapping[str, Mapping[str, float]] | None = None,
    ax: Any = None,
) -> Any:
    """One bar per grid point, with the reference figure (if any) as a hatched bar beside it."""
    ax = _axes(ax)
    labels = [_label(r.params) for r in report.results]
    positions = list(range(len(labels)))
    ax.bar([p - 0.2 for p in positions], [r.metrics[metric] for r in report.results], 0.4, label="measured")
    refs = [
        (p, (reference or {}).get(r.pooling, {}).get(metric))
        for p, r in zip(positions, report.results, strict=True)
    ]
    known = [(p, v) for p, v in refs if v is not None]
    if known:
        ax.bar(
            [p + 0.2 for p, _ in known], [v for _, v in known], 0.4, hatch="//", fill=False, label="reference"
        )
    ax.set_xticks(positions, labels, rotation=30, ha="right")
    ax.set_ylabel(metric)
    ax.set_title(f"{report.dataset} ({report.split}): {metric}")
    ax.legend()
    return ax


def line_chart(report: EvalReport, x: str, metric: str = "recall@5", ax: Any = None) -> Any:
    """metric against the grid key x, one line per combination of the other grid keys."""
    ax = _axes(ax)
    lines: dict[str, list[tuple[Any, float]]] = {}
    for r in report.results:
        others = {k: v for k, v in r.params.items() if k != x}
        lines.setdefault(_label(others), []).append((r.params[x], r.metrics[metric]))
    for label, points in lines.items():
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(f"{report.dataset}: {metric} by {x}")
    ax.legend()
    return ax
