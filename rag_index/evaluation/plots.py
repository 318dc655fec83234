"""Charts of an EvalReport for the notebooks (matplotlib is imported only when a chart is drawn)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rag_index.evaluation.runner import EvalReport

LINE_STYLES = ("-", "--", ":", "-.")


def _axes(ax: Any, width: float = 8.0) -> Any:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("charts need matplotlib: pip install 'rag-index[notebooks]'") from None
    return plt.subplots(figsize=(width, 4))[1]


def _label(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{key.rpartition('.')[2]}={value}" for key, value in params.items()) or "default"


def _check_series(report: EvalReport, series: str | None) -> None:
    if series is not None and any(series not in r.params for r in report.results):
        raise ValueError(f"series={series!r}: not a grid key of every point")


def _legend(ax: Any) -> None:
    """The legend outside the axes, on the right, so that it covers no bar or line."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    ax.figure.tight_layout()


def bar_chart(
    report: EvalReport,
    metric: str = "ndcg@10",
    reference: Mapping[str, Mapping[str, float]] | None = None,
    ax: Any = None,
    series: str | None = None,
    reference_for: Mapping[str, Any] | None = None,
) -> Any:
    """One group of bars per combination of the grid keys other than series, one bar per series value.

    series: a grid key (e.g. "retrieval.search_type") whose values become bar series side by side.
    reference ({pooling: {metric: value}}): a hatched bar beside each bar measured as the reference was;
    reference_for ({grid key: value}) says how, e.g. {"retrieval.search_type": "similarity"}: only those
    points get one (None: every point; with series a reference needs it).
    """
    _check_series(report, series)
    if series is not None and reference is not None and reference_for is None:
        raise ValueError("a reference is measured with one setting of the series: give reference_for")
    groups: dict[str, int] = {}
    kinds: dict[Any, bool] = {}  # series value -> has a reference bar
    bars: list[tuple[str, Any, float, float | None]] = []  # group, series value, measured, reference
    for r in report.results:
        group = _label({k: v for k, v in r.params.items() if k != series})
        value = r.params[series] if series is not None else None
        ref = (reference or {}).get(r.pooling, {}).get(metric) if r.matches(reference_for) else None
        groups.setdefault(group, len(groups))
        kinds[value] = kinds.get(value, False) or ref is not None
        bars.append((group, value, r.metrics[metric], ref))
    slots = [(value, kind) for value, has_ref in kinds.items() for kind in ("measured", "ref")[: 1 + has_ref]]
    width = 0.8 / max(len(slots), 1)
    ax = _axes(ax, max(8.0, 2.5 + 0.25 * len(groups) * len(slots)))
    for slot, (value, kind) in enumerate(slots):
        offset = (slot - (len(slots) - 1) / 2) * width
        color = f"C{list(kinds).index(value) % 10}"
        if kind == "measured":
            label = "measured" if series is None else _label({series: value})
            points = [(groups[g], m) for g, v, m, _ in bars if v == value]
            ax.bar([p + offset for p, _ in points], [m for _, m in points], width, color=color, label=label)
        else:
            label = "reference" if reference_for is None else f"reference ({_label(reference_for)})"
            points = [(groups[g], ref) for g, v, _, ref in bars if v == value and ref is not None]
            ax.bar(
                [p + offset for p, _ in points],
                [ref for _, ref in points],
                width,
                hatch="//",
                fill=False,
                edgecolor=color,
                label=label,
            )
    ax.set_xticks(range(len(groups)), list(groups), rotation=30, ha="right")
    ax.set_ylabel(metric)
    ax.set_title(f"{report.dataset} ({report.split}): {metric}")
    _legend(ax)
    return ax


def line_chart(
    report: EvalReport, x: str, metric: str = "recall@5", ax: Any = None, series: str | None = None
) -> Any:
    """metric against the grid key x, one line per combination of the other grid keys.

    series: a grid key (e.g. "retrieval.search_type") whose values get a line style each (solid, dashed,
    ...); lines that differ only in it share a colour.
    """
    _check_series(report, series)
    ax = _axes(ax)
    lines: dict[str, list[tuple[Any, float]]] = {}
    styles: dict[str, tuple[str, str]] = {}  # line label -> (colour, line style)
    colours: dict[str, int] = {}
    values: dict[Any, int] = {}
    for r in report.results:
        others = {k: v for k, v in r.params.items() if k != x}
        label = _label(others)
        hue = colours.setdefault(_label({k: v for k, v in others.items() if k != series}), len(colours))
        dash = values.setdefault(others.get(series) if series is not None else None, len(values))
        styles[label] = (f"C{hue % 10}", LINE_STYLES[dash % len(LINE_STYLES)])
        lines.setdefault(label, []).append((r.params[x], r.metrics[metric]))
    for label, points in lines.items():
        points.sort()
        colour, style = styles[label]
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="o",
            color=colour,
            linestyle=style,
            label=label,
        )
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(f"{report.dataset}: {metric} by {x}")
    _legend(ax)
    return ax
