"""embedder.dtype: int8 (NNCF-quantized OpenVINO): close to fp32, deterministic, cached, fingerprinted."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest

import rag_index.embed.backends as backends
import rag_index.embed.int8 as int8
from rag_index.embed.cache import CACHE_ENV
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.errors import ConfigError
from tests.test_embedder import mixed_texts

pytest.importorskip("openvino", reason="the optional openvino package is not installed")
pytest.importorskip("nncf", reason="int8 needs nncf: pip install -e '.[int8]'")

TEXTS = mixed_texts(40, seed=17)


@pytest.fixture(scope="module")
def tiny_model(tiny_model: Path) -> str:
    """The tiny BERT's folder as embedder.model takes it: a string."""
    return str(tiny_model)


@pytest.fixture()
def few_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calibrate on 8 texts, so that a test's quantization is quick."""
    monkeypatch.setattr(int8, "CALIBRATION_SIZE", 8)


def int8_embedder(model: str | None, cache: Path, monkeypatch: pytest.MonkeyPatch) -> PoolingEmbedder:
    """model at dtype int8, keeping its models in the cache folder (RAG_INDEX_CACHE)."""
    monkeypatch.setenv(CACHE_ENV, str(cache))
    return PoolingEmbedder(model, device="cpu", dtype="int8")


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The worst cosine between the rows of two sets of unit vectors."""
    return float(np.sum(a * b, axis=1).min())


def int8_models(cache: Path) -> list[Path]:
    """The quantized models under their final names in cache (a .partial folder is never read)."""
    return sorted(
        p for p in cache.glob("openvino/*-int8-*/encoder.xml") if not p.parent.name.endswith(".partial")
    )


@pytest.mark.usefixtures("few_texts")
def test_tiny_model_int8_is_quantized_close_to_fp32_and_fingerprinted(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = PoolingEmbedder(tiny_model, device="cpu", dtype="fp32", backend="torch")
    quantized = int8_embedder(tiny_model, tmp_path, monkeypatch)
    vectors = quantized.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), quantized.dimension) and vectors.dtype == np.float32
    # Measured: 0.99995 (8 calibration texts) and 0.99997 (300); the tiny model's activations are small.
    assert min_cosine(vectors, reference.encode(TEXTS)) >= 0.9999
    [model] = int8_models(tmp_path)
    assert "FakeQuantize" in model.read_text()  # int8 for real, not the float model
    assert quantized.fingerprint["quantization"].startswith("int8-")
    assert quantized.fingerprint != reference.fingerprint  # int8 vectors never join an fp32/bf16 collection
    assert {k: v for k, v in quantized.fingerprint.items() if k != "quantization"} == reference.fingerprint


@pytest.mark.usefixtures("few_texts")
def test_two_quantizations_give_identical_vectors(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = int8_embedder(tiny_model, tmp_path / "a", monkeypatch).encode(TEXTS)
    second = int8_embedder(tiny_model, tmp_path / "b", monkeypatch).encode(TEXTS)
    assert len(int8_models(tmp_path / "a")) == len(int8_models(tmp_path / "b")) == 1
    np.testing.assert_array_equal(first, second)
    a, b = int8_models(tmp_path / "a")[0], int8_models(tmp_path / "b")[0]
    assert a.with_suffix(".bin").read_bytes() == b.with_suffix(".bin").read_bytes()


@pytest.mark.usefixtures("few_texts")
def test_the_cached_int8_model_is_reused_and_a_new_calibration_makes_another(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = int8_embedder(tiny_model, tmp_path, monkeypatch).encode(TEXTS)

    def no_second_quantization(*args: object) -> None:
        raise AssertionError("quantized again instead of reading the cache")

    with monkeypatch.context() as patched:
        patched.setattr(backends, "quantize", no_second_quantization)
        again = int8_embedder(tiny_model, tmp_path, monkeypatch)
        np.testing.assert_array_equal(again.encode(TEXTS), first)
    assert not list(tmp_path.glob("openvino/*.partial")), "the model is written beside, then renamed"
    monkeypatch.setattr(int8, "CALIBRATION_SIZE", 9)  # other calibration texts: another model and space
    other = int8_embedder(tiny_model, tmp_path, monkeypatch)
    other.encode(TEXTS[:2])
    assert len(int8_models(tmp_path)) == 2
    assert other.fingerprint["quantization"] != again.fingerprint["quantization"]


def test_the_calibration_set_is_the_packaged_one() -> None:
    texts = int8.calibration_texts()
    assert len(texts) == int8.CALIBRATION_SIZE == 300
    assert any("Aurora" in text for text in texts)  # the project's own sample corpus
    assert int8.calibration_key(texts, 256) == int8.calibration_key(texts, 256)
    assert int8.calibration_key(texts, 256) not in {
        int8.calibration_key(texts, 128),
        int8.calibration_key(texts[1:], 256),
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"backend": "torch"},
            r"^embedder\.dtype: int8 needs embedder\.backend: openvino \(or auto\), not torch$",
        ),
        (
            {"device": "cuda"},
            r"^embedder\.dtype: int8 runs on the CPU \(OpenVINO\), not cuda; set embedder\.device",
        ),
    ],
)
def test_int8_where_it_cannot_run_is_one_clear_line(
    tiny_model: str, settings: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        PoolingEmbedder(tiny_model, dtype="int8", **settings)


def test_int8_without_nncf_names_the_install_command(
    tiny_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = importlib.metadata.version

    def without_nncf(name: str) -> str:
        if name == "nncf":
            raise importlib.metadata.PackageNotFoundError(name)
        return version(name)

    monkeypatch.setattr(importlib.metadata, "version", without_nncf)
    with pytest.raises(
        ConfigError, match=r"^embedder\.dtype: int8 needs the nncf package: pip install 'rag-index\[int8\]'"
    ):
        PoolingEmbedder(tiny_model, dtype="int8")


def test_default_model_int8_with_a_short_calibration_is_close_to_fp32(
    embedder: PoolingEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(int8, "CALIBRATION_SIZE", 32)  # 15 s instead of a minute
    quantized = int8_embedder(None, tmp_path, monkeypatch)
    # Measured: 0.9893 with 32 calibration texts (mean 0.9953).
    assert min_cosine(quantized.encode(TEXTS), embedder.encode(TEXTS)) >= 0.985


@pytest.mark.slow  # a minute: the real calibration (300 texts)
def test_default_model_int8_is_close_to_fp32(
    embedder: PoolingEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quantized = int8_embedder(None, tmp_path, monkeypatch)
    # Measured: 0.9928 on these texts (mean 0.9961); 0.9923 on 200 SciFact abstracts. bf16: 0.99997.
    assert min_cosine(quantized.encode(TEXTS), embedder.encode(TEXTS)) >= 0.99


def test_a_collection_of_fp32_vectors_refuses_the_int8_embedder(tiny_model: str, tmp_path: Path) -> None:
    from rag_index.errors import StoreError
    from rag_index.storage.chroma import ChromaStore

    store = ChromaStore(str(tmp_path / "store"), "docs")
    store.open(PoolingEmbedder(tiny_model, device="cpu", dtype="fp32", backend="torch").fingerprint)
    quantized = PoolingEmbedder(tiny_model, device="cpu", dtype="int8")  # nothing quantized: not encoding
    with pytest.raises(StoreError, match="was built with a different embedder"):
        ChromaStore(str(tmp_path / "store"), "docs").open(quantized.fingerprint)


@pytest.mark.usefixtures("few_texts")
def test_a_run_killed_while_writing_the_int8_model_leaves_no_half_model(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openvino as ov

    int8_embedder(tiny_model, tmp_path, monkeypatch).encode(TEXTS[:2])  # the float model is cached now
    save_model = ov.save_model

    def killed_halfway(model: object, path: str, **options: object) -> None:
        Path(path).write_text("<?xml half")  # the process dies here
        raise KeyboardInterrupt

    monkeypatch.setattr(int8, "CALIBRATION_SIZE", 9)  # a new calibration: a new int8 model to write
    monkeypatch.setattr(ov, "save_model", killed_halfway)
    with pytest.raises(KeyboardInterrupt):
        int8_embedder(tiny_model, tmp_path, monkeypatch).encode(TEXTS[:2])
    assert len(int8_models(tmp_path)) == 1  # only the first calibration's: no half model under a final name
    monkeypatch.setattr(ov, "save_model", save_model)
    vectors = int8_embedder(tiny_model, tmp_path, monkeypatch).encode(TEXTS)  # quantized again, whole
    assert len(int8_models(tmp_path)) == 2 and np.isfinite(vectors).all()
