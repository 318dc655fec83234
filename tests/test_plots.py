"""The notebooks' charts and table: one series per search, references beside the search they measured."""

from __future__ import annotations

from typing import Any

import pytest

from rag_index.evaluation import SCIFACT_REFERENCE
from rag_index.evaluation.runner import EvalReport, PointResult

matplotlib = pytest.importorskip(
    "matplotlib", reason="charts need matplotlib (pip install 'rag-index[notebooks]')"
)
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rag_index.evaluation.plots import bar_chart, line_chart, suite_chart  # noqa: E402
from rag_index.evaluation.suite import SuiteReport, SuiteRow  # noqa: E402

DENSE = {"retrieval.search_type": "similarity"}
SEARCH = "retrieval.search_type"


def point(params: dict[str, Any], pooling: str = "mean", **metrics: float) -> PointResult:
    return PointResult(params, pooling, metrics, units=10, encode_seconds=1.0, cached=False)


@pytest.fixture
def two_searches() -> EvalReport:
    """Three poolings (two with reference figures), each searched dense and hybrid; tall bars near 1."""
    results = [
        point({"embedder.pooling": pooling, SEARCH: search}, pooling, **{"ndcg@10": score})
        for pooling, dense, hybrid in [("mean", 0.97, 0.99), ("cls", 0.9, 0.98), ("idf_mean", 0.95, 0.96)]
        for search, score in (("similarity", dense), ("hybrid", hybrid))
    ]
    return EvalReport("scifact", "test", 5, 26, True, results=results)


@pytest.fixture(autouse=True)
def close_figures() -> Any:
    yield
    plt.close("all")


def overlaps(a: Any, b: Any) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def legend_covers_no_patch(ax: Any) -> None:
    renderer = ax.figure.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    bars = [patch for container in ax.containers for patch in container]
    assert bars and not any(overlaps(legend, patch.get_window_extent(renderer)) for patch in bars)


def test_bar_chart_draws_one_series_per_search_and_the_reference_beside_dense_only(
    two_searches: EvalReport,
) -> None:
    ax = bar_chart(two_searches, reference=SCIFACT_REFERENCE, series=SEARCH, reference_for=DENSE)
    series = {container.get_label(): container for container in ax.containers}
    assert list(series) == [
        "search_type=similarity",
        "reference (search_type=similarity)",
        "search_type=hybrid",
    ]
    dense, reference, hybrid = series.values()
    assert [bar.get_height() for bar in dense] == [0.97, 0.9, 0.95]
    assert [bar.get_height() for bar in hybrid] == [0.99, 0.98, 0.96]
    # mean and cls have reference figures, each right beside its dense bar; idf_mean has none.
    assert [bar.get_height() for bar in reference] == [0.6451, 0.6063]
    for ref, bar in zip(reference, dense, strict=False):
        assert ref.get_x() == pytest.approx(bar.get_x() + bar.get_width())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["pooling=mean", "pooling=cls", "pooling=idf_mean"]
    legend_covers_no_patch(ax)


def test_bar_chart_with_a_series_needs_to_know_what_the_reference_measured(two_searches: EvalReport) -> None:
    with pytest.raises(ValueError, match="reference_for"):
        bar_chart(two_searches, reference=SCIFACT_REFERENCE, series=SEARCH)
    with pytest.raises(ValueError, match="not a grid key"):
        bar_chart(two_searches, series="retrieval.alpha")


def test_bar_chart_without_series_keeps_one_measured_bar_per_point(two_searches: EvalReport) -> None:
    ax = bar_chart(two_searches, reference=SCIFACT_REFERENCE, reference_for=DENSE)
    measured, reference = ax.containers
    assert (measured.get_label(), len(measured)) == ("measured", 6)
    assert [bar.get_height() for bar in reference] == [0.6451, 0.6063]
    legend_covers_no_patch(ax)


def test_line_chart_gives_each_search_a_line_style_and_each_other_setting_a_colour() -> None:
    results = [
        point({"chunking.strategy": strategy, "chunking.size": size, SEARCH: search}, **{"recall@5": 0.9})
        for strategy in ("recursive", "token")
        for size in (64, 128)
        for search in ("similarity", "hybrid")
    ]
    ax = line_chart(
        EvalReport("sec-10q", "test", 6, 2, False, results=results), "chunking.size", series=SEARCH
    )
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert len(lines) == 4
    solid = lines["strategy=recursive, search_type=similarity"]
    dashed = lines["strategy=recursive, search_type=hybrid"]
    other = lines["strategy=token, search_type=similarity"]
    assert (solid.get_linestyle(), dashed.get_linestyle()) == ("-", "--")
    assert solid.get_color() == dashed.get_color() != other.get_color()
    renderer = ax.figure.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert not overlaps(legend, ax.get_window_extent(renderer))  # outside the axes


def test_table_shows_the_reference_only_beside_rows_measured_as_it_was(two_searches: EvalReport) -> None:
    lines = two_searches.table(["ndcg@10"], reference=SCIFACT_REFERENCE, reference_for=DENSE).splitlines()
    assert lines[0].split()[:4] == ["embedder.pooling", "retrieval.search_type", "ndcg@10", "ref"]
    refs = {tuple(line.split()[:2]): line.split()[3] for line in lines[1:]}
    assert refs == {
        ("mean", "similarity"): "0.6451",
        ("mean", "hybrid"): "-",
        ("cls", "similarity"): "0.6063",
        ("cls", "hybrid"): "-",
        ("idf_mean", "similarity"): "-",
        ("idf_mean", "hybrid"): "-",
    }
    # Rows whose grid does not say how they searched carry no reference measured with one search.
    report = EvalReport(
        "scifact", "test", 5, 26, True, results=[point({"embedder.pooling": "mean"}, **{"ndcg@10": 0.7})]
    )
    row = report.table(["ndcg@10"], reference=SCIFACT_REFERENCE, reference_for=DENSE).splitlines()[1]
    assert row.split()[:3] == ["mean", "0.7000", "-"]


def test_suite_chart_draws_a_group_per_row_a_bar_per_point_and_the_mean_last() -> None:
    """Drawn from the JSON `rag-index eval --suite --json` prints, as the docs' chart is."""
    report = SuiteReport(
        [{SEARCH: "hybrid"}, {SEARCH: "similarity"}],
        [
            SuiteRow("scifact", "abstracts", "ndcg@10", [0.7, 0.6], 300),
            SuiteRow("sec-10q", "document QA: filings", "mrr@10", [0.8, 0.7], 195),
            SuiteRow("memories+filings", "mixed store, file questions", "hit@1", [0.7, 0.5], 195),
        ],
    )
    ax = suite_chart(SuiteReport.from_dict(report.to_dict()))
    series = {container.get_label(): container for container in ax.containers}
    assert list(series) == ["hybrid", "similarity"]  # the grid's one key is named in the title
    assert ax.get_title() == "Quality suite: bars by retrieval.search_type"
    assert [bar.get_width() for bar in series["hybrid"]] == pytest.approx([0.7, 0.8, 0.7, 0.75])
    assert [label.get_text() for label in ax.get_yticklabels()] == [
        "scifact (ndcg@10)",
        "sec-10q (mrr@10)",
        "memories+filings, file questions (hit@1)",
        "mean of BEIR and document QA",  # the table's mean: the ranked datasets' main metric only
    ]
    legend_covers_no_patch(ax)
