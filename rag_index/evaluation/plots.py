"""Charts of an EvalReport for the notebooks, and of the quality suite (matplotlib is imported only when a
chart is drawn)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rag_index.evaluation.runner import EvalReport
from rag_index.evaluation.suite import SuiteReport, SuiteRow

LINE_STYLES = ("-", "--", ":", "-.")


def _axes(ax: Any, width: float = 8.0, height: float = 4.0) -> Any:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("charts need matplotlib: pip install 'rag-index[notebooks]'") from None
    return plt.subplots(figsize=(width, height))[1]


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


def _row_name(row: SuiteRow) -> str:
    """A suite row as a reader names it: the dataset, and for a mixed store the kind of question."""
    if row.shape.startswith("mixed store"):
        return f"{row.dataset}, {row.shape.rpartition(', ')[2]} ({row.metric})"
    return f"{row.dataset} ({row.metric})"


def suite_chart(report: SuiteReport, ax: Any = None, title: str | None = None) -> Any:
    """The suite's table as horizontal bars: a group per row (the ranked sets' mean last), a bar per point.

    A point's label is its grid keys (`pooling=cls, search_type=hybrid`), or its value where the grid has one
    key; a suite run without a grid has one point, "default".
    """
    keys = sorted({key for point in report.points for key in point})
    # one grid key (as --grid retrieval.search_type=...): its values name the bars, the title names the key
    single = len(keys) == 1 and all(len(point) == 1 for point in report.points)
    labels = [str(point[keys[0]]) if single else _label(point) for point in report.points]
    rows = [(_row_name(row), row.values) for row in report.rows]
    means = [report.mean(i) for i in range(len(labels))]
    if not any(math.isnan(mean) for mean in means):  # as the table, only where a ranked dataset ran
        rows.append(("mean of BEIR and document QA", means))
    height = 0.8 / max(len(labels), 1)
    ax = _axes(ax, width=9.0, height=1.4 + 0.15 * len(rows) * max(len(labels), 1))
    for slot, label in enumerate(labels):
        offset = (slot - (len(labels) - 1) / 2) * height
        places = [row + offset for row in range(len(rows))]
        ax.barh(places, [values[slot] for _, values in rows], height, color=f"C{slot % 10}", label=label)
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.invert_yaxis()  # the table's order, top to bottom
    ax.set_xlim(0, 1)
    ax.set_xlabel("score: the metric each row names (higher is better)")
    heading = title or "Quality suite"
    ax.set_title(f"{heading}: bars by {keys[0]}" if single else heading, pad=24)
    # above the bars, in one line: the row names take the left, so a legend on the right would squeeze them
    ax.legend(
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=len(labels),
        fontsize="small",
        frameon=False,
    )
    ax.figure.tight_layout()
    return ax
