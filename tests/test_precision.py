"""dtype: auto on the CPU keeps bf16 where the backend's bf16 beats its fp32 here (measured once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag_index.embed import precision, runtime
from rag_index.embed.precision import BF16_MARGIN, bf16_pays, measure_bf16_speedup
from rag_index.embed.runtime import resolve_dtype

pytest.importorskip("openvino", reason="the measurement times OpenVINO's matmuls")

FLAGS = "model name\t: Some CPU\nflags\t\t: avx512f avx512_bf16 amx_bf16\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAG_INDEX_CACHE", str(tmp_path))
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    return tmp_path / precision.CACHE_FILE


def measured(monkeypatch: pytest.MonkeyPatch, speedup: float) -> list[str]:
    """Make the measurement return speedup; the list records the backend each time it runs."""
    calls: list[str] = []

    def fake(backend: str) -> float:
        calls.append(backend)
        return speedup

    monkeypatch.setattr(precision, "measure_bf16_speedup", fake)
    return calls


@pytest.mark.parametrize(
    ("speedup", "expected"), [(4.0, True), (BF16_MARGIN, True), (1.05, False), (0.6, False)]
)
def test_bf16_only_where_it_wins_by_the_margin(
    cache: Path, monkeypatch: pytest.MonkeyPatch, speedup: float, expected: bool
) -> None:
    measured(monkeypatch, speedup)
    assert bf16_pays(FLAGS, "openvino") is expected


def test_measured_once_per_machine_then_read_back(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = measured(monkeypatch, 0.6)
    assert not bf16_pays(FLAGS, "openvino")
    assert not bf16_pays(FLAGS, "openvino")
    assert calls == ["openvino"]
    assert list(json.loads(cache.read_text()).values()) == [{"bf16_speedup": 0.6}]
    # Another backend, another CPU, or oneDNN capped to another ISA is measured anew.
    bf16_pays(FLAGS, "torch")
    bf16_pays(FLAGS.replace("Some CPU", "Other CPU"), "openvino")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    bf16_pays(FLAGS, "openvino")
    assert calls == ["openvino", "torch", "openvino", "openvino"]
    assert len(json.loads(cache.read_text())) == 4


def test_a_damaged_cache_is_measured_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.write_text("{not json")
    calls = measured(monkeypatch, 3.0)
    assert bf16_pays(FLAGS, "openvino")
    assert calls == ["openvino"]
    assert json.loads(cache.read_text())  # rewritten whole


def test_a_killed_writer_s_half_file_is_cleared(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    abandoned = cache.with_name(f"{cache.name}.{dead.stdout.strip()}.partial")
    writing = cache.with_name(f"{cache.name}.{os.getppid()}.partial")  # a live writer's: left alone
    for partial in (abandoned, writing):
        partial.write_text("{half")
    measured(monkeypatch, 3.0)
    assert bf16_pays(FLAGS, "openvino")
    assert json.loads(cache.read_text())
    assert not abandoned.exists() and writing.exists()


def test_an_unwritable_cache_still_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("RAG_INDEX_CACHE", str(blocker / "cache"))  # under a file: cannot be made
    measured(monkeypatch, 3.0)
    assert bf16_pays(FLAGS, "openvino")


def native_bf16_cpu(monkeypatch: pytest.MonkeyPatch, speedup: float) -> list[str]:
    """A CPU with native bf16 whose measurement returns speedup; the backends measured, as measured()."""
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(runtime, "_cpu_flags", lambda: FLAGS)
    return measured(monkeypatch, speedup)


def test_resolve_dtype_measures_on_the_backend_that_runs(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = native_bf16_cpu(monkeypatch, 0.6)
    assert resolve_dtype("auto", "cpu", "openvino") == "fp32"
    assert resolve_dtype("auto", "cpu", "torch") == "fp32"
    assert resolve_dtype("bf16", "cpu", "openvino") == "bf16"  # asked for: never second-guessed
    assert calls == ["openvino", "torch"]
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    assert resolve_dtype("auto", "cpu", "openvino") == "fp32"
    assert calls == ["openvino", "torch"]  # no native bf16: nothing to measure


def test_int8_keeps_its_float_part_in_fp32_where_bf16_pays(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """int8 vectors must not depend on the CPU: what int8 leaves in floating point runs in fp32 everywhere."""
    calls = native_bf16_cpu(monkeypatch, 3.0)
    assert resolve_dtype("auto", "cpu", "openvino") == "bf16"
    assert resolve_dtype("int8", "cpu", "openvino") == "fp32"
    assert calls == ["openvino"]  # int8 needs no measurement


@pytest.mark.parametrize("backend", ["openvino", "torch"])
def test_the_real_measurement_compares_both_precisions(backend: str) -> None:
    """On any CPU: a positive ratio (fp32 time over bf16 time); what it is depends on the hardware.

    No bound below: on a CPU without AVX-512 (AMD EPYC, AVX2 only) torch emulates bf16 at 0.01x fp32.
    """
    speedup = measure_bf16_speedup(backend)
    assert 0 < speedup < 50
