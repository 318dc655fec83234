"""The tokenizer as the embedder runs it: transformers' own ids, read from the cache without transformers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag_index.embed.model_files import resolve_model_path
from rag_index.embed.tokenizer import FastTokenizer, TransformersTokenizer, load_tokenizer
from tests.conftest import REPO
from tests.test_embedder import mixed_texts

TEXTS = [
    *mixed_texts(60, seed=19),
    "",
    "word " * 2000,  # truncated
    "Überprüfung naïve café 東京大学 😀 x² C# e.g. Dr. 3.14",
    "  leading and trailing spaces  ",
]
LIMIT = 256


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAG_INDEX_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def reference(path: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


@pytest.mark.parametrize("model", ["default", "tiny"])
def test_the_cached_tokenizer_gives_transformers_ids_and_spans(
    model: str, tiny_model: Path, cache: Path
) -> None:
    path = resolve_model_path(None) if model == "default" else tiny_model
    expected = reference(path)
    first, facts = load_tokenizer(path, trust_remote_code=False)
    cached, cached_facts = load_tokenizer(path, trust_remote_code=False)
    assert list(cache.glob("tokenizers/*/tokenizer.json")), "the first load keeps the tokenizer"
    assert facts == cached_facts and facts.hidden_size == (384 if model == "default" else 32)
    want = expected(TEXTS, truncation=True, max_length=LIMIT)["input_ids"]
    cut = sum(len(row) > LIMIT for row in expected(TEXTS)["input_ids"])
    assert cut >= 3  # the truncation check means something
    for tokenizer in (first, cached):
        assert isinstance(tokenizer, FastTokenizer)
        assert tokenizer.ids(TEXTS, LIMIT) == (want, cut)
        assert tokenizer.special_tokens == expected.num_special_tokens_to_add(pair=False) == 2
        assert (tokenizer.pad_id, tokenizer.special_ids) == (expected.pad_token_id, expected.all_special_ids)
        for text in TEXTS[-3:]:
            offsets = expected(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
            assert tokenizer.spans(text) == [(s, e) for s, e in offsets if e > s]


def test_a_tokenizer_through_transformers_agrees(tiny_model: Path) -> None:
    """The path for Python tokenizers and remote code: tokenize one past the limit, then cut again."""
    expected = reference(tiny_model)
    via_transformers = TransformersTokenizer(expected)
    want = expected(TEXTS, truncation=True, max_length=LIMIT)["input_ids"]
    assert via_transformers.ids(TEXTS, LIMIT)[0] == want
    assert via_transformers.spans("Grinders grind.") == load_tokenizer(tiny_model, False)[0].spans(
        "Grinders grind."
    )


def test_remote_code_is_not_cached(tiny_model: Path, cache: Path) -> None:
    tokenizer, _ = load_tokenizer(tiny_model, trust_remote_code=True)
    assert isinstance(tokenizer, TransformersTokenizer)
    assert not list(cache.glob("tokenizers/*"))


def test_a_damaged_cache_is_rebuilt(tiny_model: Path, cache: Path) -> None:
    load_tokenizer(tiny_model, trust_remote_code=False)
    [saved] = cache.glob("tokenizers/*/tokenizer.json")
    saved.write_text("{not json")
    tokenizer, _ = load_tokenizer(tiny_model, trust_remote_code=False)
    assert tokenizer.spans("Grinders grind.") == [(0, 5), (5, 8), (9, 14), (14, 15)]
    json.loads(next(cache.glob("tokenizers/*/tokenizer.json")).read_text())  # written again, whole


def test_a_cached_cpu_embedder_imports_neither_torch_nor_transformers(tiny_model: Path, cache: Path) -> None:
    """The OpenVINO path, once its conversion and tokenizer are cached: 2 s less per process."""
    pytest.importorskip("openvino", reason="the optional openvino package is not installed")
    code = (
        "import sys; from rag_index.embed.embedder import PoolingEmbedder; "
        f"e = PoolingEmbedder({str(tiny_model)!r}, device='cpu', backend='openvino'); "
        "v = e.encode(['a first text', 'and a second, longer text']); "
        "print(v.shape, 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    env = {"RAG_INDEX_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    first = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert first.stdout.split() == ["(2,", "32)", "True", "True"], first.stderr[-2000:]  # converts, caches
    again = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert again.stdout.split() == ["(2,", "32)", "False", "False"], again.stderr[-2000:]
