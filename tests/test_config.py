"""Config validation: defaults, presets, overrides, and error messages that name the key and the choices."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from rag_index.config import Config, ConfigError, LoaderConfig, load_config
from rag_index.loaders import LoadOptions

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_default_yaml_equals_the_built_in_defaults() -> None:
    assert load_config(CONFIGS / "default.yaml") == Config() == load_config()


@pytest.mark.parametrize("preset", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_every_shipped_config_is_valid(preset: str) -> None:
    load_config(CONFIGS / preset)


def test_presets_change_only_what_they_name() -> None:
    assert load_config(CONFIGS / "pooling-cls.yaml").embedder.pooling == "cls"
    config = load_config(CONFIGS / "chunking-sentence.yaml")
    assert config.chunking.strategy == "sentence"
    assert config.embedder == Config().embedder


def test_overrides_set_any_key_with_yaml_typed_values() -> None:
    config = load_config(overrides=["embedder.pooling=cls", "store.path=/tmp/x", "chunking.size=128"])
    assert config.embedder.pooling == "cls"
    assert config.store.path == "/tmp/x"
    assert config.chunking.size == 128


def test_overrides_apply_on_top_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("embedder:\n  pooling: max\nretrieval:\n  k: 9\n")
    config = load_config(path, ["embedder.pooling=mean"])
    assert (config.embedder.pooling, config.retrieval.k) == ("mean", 9)


def test_bad_pooling_names_key_value_and_choices(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("embedder:\n  pooling: meen\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message == (
        f"{path}: embedder.pooling: 'meen' is not one of auto, attention, cls, idf_mean, last_token, max, "
        "mean, mean_no_special, mean_sqrt_len, weighted_mean, or several joined by '+' (e.g. mean+max)"
    )


def test_unknown_keys_are_rejected_with_their_path() -> None:
    with pytest.raises(ConfigError, match=r"^embedder\.poolng: unknown key$"):
        load_config(overrides=["embedder.poolng=cls"])
    with pytest.raises(ConfigError, match=r"^retreival: unknown key$"):
        load_config(overrides=["retreival.k=3"])


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("store.distance=manhattan", r"store\.distance: 'manhattan' is not one of cosine, ip, l2"),
        ("chunking.strategy=words", r"chunking\.strategy: 'words' is not one of markdown, recursive"),
        ("chunking.unit=bytes", r"chunking\.unit: 'bytes' is not one of characters, tokens"),
        ("chunking.size=-3", r"chunking\.size: -3: Input should be greater than 0"),
        ("chunking.overlap=300", r"chunking: overlap \(300\) must be smaller than size \(200\)"),
        ("retrieval.k=many", r"retrieval\.k: 'many': Input should be a valid integer"),
        ("embedder.dtype=int4", r"embedder\.dtype: 'int4' is not one of auto, bf16, fp16, fp32, int8"),
        ("loader.formats=[pdf, odt]", r"loader\.formats: 'odt' is not one of docx, html, md, pdf, pptx, txt"),
    ],
)
def test_invalid_values_name_key_value_and_expectation(override: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(overrides=[override])


def test_malformed_override_and_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(overrides=["embedder.pooling"])
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("embedder: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "broken.yaml")


def test_default_yaml_is_the_dump_of_the_defaults() -> None:
    assert yaml.safe_load((CONFIGS / "default.yaml").read_text()) == Config().model_dump()


def test_loader_defaults_are_the_load_options_defaults() -> None:
    # LoadOptions() is what load_file uses without options: it must read files as a default run does.
    options = LoaderConfig().load_options()
    assert options == dataclasses.replace(LoadOptions(), max_bytes=20_000_000)


def test_a_bare_yaml_off_for_ocr_means_off() -> None:
    assert load_config(overrides=["loader.ocr=off"]).loader.ocr == "off"  # YAML reads `off` as false
    assert load_config(overrides=["loader.ocr=force"]).loader.ocr == "force"


def test_hnsw_ef_search_reaches_a_new_collection(tmp_path: Path) -> None:
    from rag_index.build import build_store

    config = load_config(None, [f"store.path={tmp_path}", "store.hnsw_ef_search=250"])
    store = build_store(config.store)
    store.open({"model": "test"})
    assert store.collection.configuration["hnsw"]["ef_search"] == 250
    default = build_store(load_config(None, [f"store.path={tmp_path / 'default'}"]).store)
    default.open({"model": "test"})
    assert default.collection.configuration["hnsw"]["ef_search"] == 100  # Chroma's own


def test_hnsw_ef_search_reaches_an_existing_collection_at_its_next_write(tmp_path: Path) -> None:
    import subprocess
    import sys

    from rag_index.build import build_store

    build_store(load_config(None, [f"store.path={tmp_path}"]).store).open({"model": "test"})  # Chroma's 100
    wider = load_config(None, [f"store.path={tmp_path}", "store.hnsw_ef_search=250"])
    build_store(wider.store).open({"model": "test"}, create=False)  # a search changes nothing
    read = (
        "from rag_index.build import build_store; from rag_index.config import load_config; "
        f"store = build_store(load_config(None, ['store.path={tmp_path}']).store); store.attach(); "
        "print(store.collection.configuration['hnsw']['ef_search'])"
    )

    def stored_ef_search() -> str:  # as another process opening the store reads it
        return subprocess.run([sys.executable, "-c", read], capture_output=True, text=True).stdout.strip()

    assert stored_ef_search() == "100"
    build_store(wider.store).open({"model": "test"})  # a write: the next index run or add
    assert stored_ef_search() == "250"
