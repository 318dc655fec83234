"""The speed benchmarks' charts, drawn from small results shaped as embed.py and end_to_end.py emit them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("matplotlib", reason="charts need matplotlib (pip install 'rag-index[notebooks]')")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def plots() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_plots", ROOT / "benchmarks" / "_plots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def texts(ax: Any) -> list[str]:
    return [text.get_text().strip() for text in ax.texts]


def test_speed_chart_puts_the_fastest_on_top_rag_index_in_colour_and_the_ceiling(
    plots: ModuleType, tmp_path: Path
) -> None:
    result = {
        "texts": 1000,
        "tokens_per_s": {"st-torch-fp32": 4000.0, "rag-index": 20000.0, "st-openvino": 17000.0},
        "ceiling_tokens_per_s": 24000,
    }
    ax = plots.speed_chart(result)
    bars = list(ax.containers[0])
    assert [label.get_text() for label in ax.get_yticklabels()] == [
        "st-torch-fp32",
        "st-openvino",
        "rag-index",
    ]
    assert [bar.get_width() for bar in bars] == [4000.0, 17000.0, 20000.0]
    assert bars[2].get_facecolor() != bars[1].get_facecolor() == bars[0].get_facecolor()
    assert ax.lines[0].get_xdata()[0] == 24000  # the ceiling's line
    assert "20,000" in texts(ax) and "matmul ceiling" in texts(ax)
    png = plots.save(ax, tmp_path / "speed.png")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size < 150_000


def test_end_to_end_chart_shows_medians_each_run_and_the_ratio_to_rag_index(
    plots: ModuleType, tmp_path: Path
) -> None:
    result = {
        "rag_index": [{"seconds": 20.0}, {"seconds": 30.0}],
        "langchain": [{"seconds": 100.0}, {"seconds": 150.0}],
        "llamaindex": [],  # skipped: not drawn
    }
    ax = plots.end_to_end_chart(result)
    assert [label.get_text() for label in ax.get_yticklabels()] == ["rag-index (defaults)", "LangChain"]
    assert [bar.get_width() for bar in ax.containers[0]] == [25.0, 125.0]
    assert texts(ax) == ["25.0 s", "125.0 s  (5.00x rag-index)"]
    assert [list(line.get_xdata()) for line in ax.lines] == [[20.0, 30.0], [100.0, 150.0]]  # every run
    png = plots.save(ax, tmp_path / "end-to-end.png")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size < 150_000
