"""RagIndex, the one object: index, search, info, verify and LangChain views over one collection."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_index import RagIndex
from rag_index.config import load_config
from rag_index.errors import ConfigError, RagIndexError, StoreError
from tests.fakes import FakeEmbedder


def folder(root: Path) -> Path:
    root.mkdir()
    (root / "grinder.txt").write_text("The Aurora grinder has conical steel burrs. Clean them monthly.")
    (root / "kettle.md").write_text("# Kettle\n\nThe kettle boils a litre of water in three minutes.")
    return root


@pytest.fixture
def index(tmp_path: Path) -> RagIndex:
    return RagIndex(embedder=FakeEmbedder(), store={"path": str(tmp_path / "store")}, retrieval={"k": 2})


def test_index_search_info_and_verify(index: RagIndex, tmp_path: Path) -> None:
    report = index.index(folder(tmp_path / "docs"))
    assert (report.files_indexed, report.chunks_written) == (2, 2)
    hits = index.search("conical burrs")
    assert hits[0].metadata["source"] == "grinder.txt" and len(hits) == 2
    assert [h.metadata["source"] for h in index.search("kettle water", k=1)] == ["kettle.md"]
    info = index.info()
    assert (info["chunks"], info["sources"]) == (2, {"grinder.txt": 1, "kettle.md": 1})
    drift, after = index.verify()
    assert drift.ok and after is None
    again = index.index(tmp_path / "docs")
    assert (again.files_unchanged, again.chunks_embedded) == (2, 0)


def test_a_single_file_is_indexed_relative_to_its_folder(index: RagIndex, tmp_path: Path) -> None:
    docs = folder(tmp_path / "docs")
    report = index.index(docs / "kettle.md")
    assert report.files_indexed == 1 and index.info()["sources"] == {"kettle.md": 1}


def test_overrides_by_section_or_dotted_key_are_checked(tmp_path: Path) -> None:
    base = load_config(overrides=["retrieval.k=4"])
    built = RagIndex(base, **{"store.path": str(tmp_path), "retrieval": {"fetch_k": 30}})
    assert (built.config.store.path, built.config.retrieval.k, built.config.retrieval.fetch_k) == (
        str(tmp_path),
        4,
        30,
    )
    with pytest.raises(ConfigError, match=r"^retrieval\.k: 0: Input should be greater than 0$"):
        RagIndex(retrieval={"k": 0})
    with pytest.raises(ConfigError, match=r"^retreival: unknown key$"):
        RagIndex(retreival={"k": 3})


def test_user_mistakes_are_rag_index_errors(index: RagIndex, tmp_path: Path) -> None:
    with pytest.raises(RagIndexError, match="no such file or folder"):
        index.index(tmp_path / "missing")
    with pytest.raises(StoreError, match="no collection 'rag-index'"):
        index.search("anything")
    index.index(folder(tmp_path / "docs"))
    with pytest.raises(ConfigError, match=r"retrieval\.search_type: 'knn' is not one of"):
        index.search("anything", search_type="knn")


def test_as_retriever_is_a_langchain_retriever_over_the_same_results(index: RagIndex, tmp_path: Path) -> None:
    index.index(folder(tmp_path / "docs"))
    docs = index.as_retriever(k=1).invoke("conical burrs")
    assert [d.metadata["source"] for d in docs] == ["grinder.txt"]
    assert docs[0].page_content == index.search("conical burrs", k=1)[0].text
