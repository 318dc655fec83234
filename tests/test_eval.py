"""Evaluation datasets, exact search, grids and the `rag-index eval` command on tiny made-up datasets."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from rag_index.cli import main
from rag_index.config import ConfigError
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.evaluation import (
    DatasetError,
    EvalError,
    evaluate,
    exact_search,
    grid_points,
    load_dataset,
    run_eval,
    subset,
)
from rag_index.evaluation.runner import (
    EVAL_HNSW,
    collection_name,
    encode_blocks,
    index_units,
    retriever_search,
)
from rag_index.search.retriever import Retriever
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.lexical import LexicalConfig, LexicalIndex
from tests.conftest import SHARED
from tests.fakes import FakeEmbedder

SCIFACT = SHARED / "datasets" / "scifact"

CORPUS = [
    {
        "_id": "d1",
        "title": "Coffee",
        "text": "Espresso is brewed by forcing hot water through fine coffee grounds.",
    },
    {"_id": "d2", "title": "Tea", "text": "Green tea leaves are steamed or pan fired to stop oxidation."},
    {
        "_id": "d3",
        "title": "Bread",
        "text": "Sourdough bread rises with wild yeast and lactic acid bacteria.",
    },
    {"_id": "d4", "title": "", "text": "Cheese is made by curdling milk with rennet."},
]
QUERIES = [
    {"_id": "q1", "text": "how is espresso made"},
    {"_id": "q2", "text": "what makes sourdough rise"},
    {"_id": "q3", "text": "an unjudged query"},
]


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    """A four-document BEIR folder with a test split (q1 -> d1, q2 -> d3) and a train split."""
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in CORPUS) + "\n")
    (tmp_path / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in QUERIES) + "\n")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t2\n")
    (tmp_path / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq3\td2\t1\n")
    return tmp_path


@pytest.fixture
def document_qa(tmp_path: Path) -> Path:
    """A document-QA folder: three text files and questions whose sources are file-name globs."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "2023 Q1 ACME.txt").write_text("ACME sold rockets.\n\n" + "ACME revenue grew in 2023 Q1. " * 40)
    (docs / "2023 Q2 ACME.txt").write_text("ACME sold anvils and rockets in the second quarter.")
    (docs / "2023 Q1 BOLT.txt").write_text("BOLT makes screws and bolts for bridges.")
    (tmp_path / "qna_data.csv").write_text(
        "Question,Source Docs,Answer\n"
        "What did ACME sell?,*ACME*,rockets\n"
        "What does BOLT make?,*2023 Q1 BOLT*,screws\n"
        "Who makes gears?,*GEAR*,nobody\n",
        encoding="utf-8-sig",
    )
    return tmp_path


def test_beir_documents_are_title_space_text(beir: Path) -> None:
    dataset = load_dataset(beir)
    documents = {d.id: d for d in dataset.documents()}
    assert (
        documents["d1"].text == "Coffee Espresso is brewed by forcing hot water through fine coffee grounds."
    )
    assert documents["d4"].text == "Cheese is made by curdling milk with rennet."  # no leading space
    assert documents["d1"].metadata["eval_id"] == "d1"


def test_beir_split_keeps_only_its_judged_queries(beir: Path) -> None:
    test, train = load_dataset(beir, "test"), load_dataset(beir, "train")
    assert test.qrels == {"q1": {"d1": 1}, "q2": {"d3": 2}}
    assert set(test.queries) == {"q1", "q2"} and set(train.queries) == {"q3"}
    assert test.fingerprint != train.fingerprint


def test_unknown_split_names_the_available_ones(beir: Path) -> None:
    with pytest.raises(DatasetError, match=r"dev.tsv: no such split; available: test, train"):
        load_dataset(beir, "dev")


def test_a_folder_in_no_known_layout_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"not a dataset folder; expected corpus.jsonl"):
        load_dataset(tmp_path)


def test_document_qa_relevance_is_by_file_glob(document_qa: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        dataset = load_dataset(document_qa / "qna_data.csv")  # the csv itself works too
    assert dataset.layout == "document_qa"
    assert dataset.qrels["q1"] == {"2023 Q1 ACME.txt": 1, "2023 Q2 ACME.txt": 1}
    assert dataset.qrels["q2"] == {"2023 Q1 BOLT.txt": 1}
    assert dataset.qrels["q3"] == {}
    assert "['*GEAR*'] matches no file" in caplog.text
    assert {d.metadata["eval_id"] for d in dataset.documents()} == set(dataset.corpus_ids)


def test_subset_keeps_relevant_documents_and_some_distractors(beir: Path) -> None:
    full = load_dataset(beir)
    small = subset(full, queries=1, distractors=1)
    assert list(small.qrels) == ["q1"]
    assert "d1" in small.corpus_ids and len(small.corpus_ids) == 2
    assert small.fingerprint != full.fingerprint
    assert subset(full, queries=1, distractors=1).corpus_ids == small.corpus_ids  # seeded


def test_exact_search_scores_a_document_by_its_best_chunk() -> None:
    units = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]], dtype=np.float32)
    run = exact_search(["q"], np.array([[0.0, 2.0]], dtype=np.float32), units, ["a", "b", "a", "c"], depth=2)
    assert run == {"q": {"b": pytest.approx(1.0), "a": pytest.approx(0.8)}}


def test_grid_points_are_the_product_of_the_values() -> None:
    points = grid_points(None, ["chunking.overlap=0"], ["embedder.pooling=mean,cls", "chunking.size=64,128"])
    assert [p.params for p in points] == [
        {"embedder.pooling": "mean", "chunking.size": 64},
        {"embedder.pooling": "mean", "chunking.size": 128},
        {"embedder.pooling": "cls", "chunking.size": 64},
        {"embedder.pooling": "cls", "chunking.size": 128},
    ]
    assert points[3].config.chunking.size == 128 and points[3].config.chunking.overlap == 0


@pytest.mark.parametrize(
    ("grid", "error", "message"),
    [
        (["embedder.pooling="], EvalError, "expected KEY=V1,V2"),
        (["embedder.pooling=mean", "embedder.pooling=cls"], EvalError, "given twice"),
        (["embedder.pooling=mean,meen"], ConfigError, "'meen' is not one of auto, attention, cls"),
        (["embedder.pooling=mean+idf_mean"], ConfigError, "a concatenation joins distinct poolings"),
    ],
)
def test_bad_grids_say_what_is_wrong(grid: list[str], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        grid_points(None, [], grid)


def test_eval_json_then_cached(beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["eval", "--dataset", str(beir), "--json", "--cache-dir", str(tmp_path / "cache")]
    args += ["--set", f"store.path={tmp_path / 'store'}", "--set", "retrieval.search_type=similarity"]
    assert main([*args, "--grid", "embedder.pooling=mean,max,idf_mean,mean+cls,mean_no_special"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["document_score"] == "whole document" and first["queries"] == 2
    assert len(first["passes"]) == 1 and len(first["passes"][0]["poolings"]) == 5  # one forward pass
    mean = first["points"][0]
    assert mean["embedder.pooling"] == "mean" and mean["ndcg@10"] == 1.0 and mean["recall@100"] == 1.0
    assert main(args) == 0  # the default pooling of the model is mean: served from the cache
    again = json.loads(capsys.readouterr().out)
    assert again["cached"] is True and again["passes"] == [] and again["ndcg@10"] == mean["ndcg@10"]
    assert main([*args, "--no-cache"]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is False


def test_eval_caches_each_precision_apart(
    beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bf16 and fp32 share a fingerprint, not their results: a dtype grid computes both."""
    args = ["eval", "--dataset", str(beir), "--json", "--cache-dir", str(tmp_path / "cache")]
    args += ["--set", f"store.path={tmp_path / 'store'}", "--set", "retrieval.search_type=similarity"]
    assert main([*args, "--grid", "embedder.dtype=fp32,bf16"]) == 0
    points = json.loads(capsys.readouterr().out)["points"]
    assert [p["embedder.dtype"] for p in points] == ["fp32", "bf16"]
    assert [p["cached"] for p in points] == [False, False]
    assert main([*args, "--set", "embedder.dtype=bf16"]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is True


def test_eval_chunked_documents_table(
    document_qa: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", "--dataset", str(document_qa), "--no-cache", "--set", "chunking.overlap=0"]
    args += ["--set", f"store.path={tmp_path / 'store'}"]
    assert main([*args, "--grid", "chunking.size=16,64"]) == 0
    out = capsys.readouterr().out
    assert (
        "3 documents, 2 queries; documents chunked; a document's score is the best score of its chunks" in out
    )
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["encoded", "encoded", "chunking.size", "16", "64"]
    units = lines[3].split().index("units")
    assert int(lines[4].split()[units]) > int(lines[5].split()[units]) >= 3  # smaller chunks, more of them


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "/no/such/dataset"], "/no/such/dataset: not a dataset folder"),
        (["--grid", "chunking.size=64,128"], "this run embeds whole documents; add --documents chunked"),
        (["--queries", "0"], "--queries: expected a positive number, got 0"),
    ],
)
def test_eval_mistakes_exit_2_with_one_line(
    beir: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--dataset", str(beir), "--no-cache", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_retriever_search_scores_a_document_by_its_best_chunk(tmp_path: Path) -> None:
    units = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]], dtype=np.float32)
    queries = np.array([[0.0, 2.0], [1.0, 0.1]], dtype=np.float32)
    store = ChromaStore(str(tmp_path), "eval-units", hnsw=EVAL_HNSW)
    texts = ["alpha one", "beta two", "alpha three", "gamma four"]
    index_units(store, None, texts, units, ["a", "b", "a", "c"], {"test": 1})
    retriever = Retriever(FakeEmbedder(), store, search_type="similarity")
    run = retriever_search(retriever, ["q", "r"], ["", ""], queries, 4, 3, 2)
    exact = exact_search(["q", "r"], queries, units, ["a", "b", "a", "c"], depth=2)
    assert run.keys() == exact.keys()
    for qid in run:
        assert run[qid] == {doc: pytest.approx(score, abs=1e-5) for doc, score in exact[qid].items()}
    assert store.count() == 4 and store.stored_fingerprint() == {"test": 1}


def test_lexical_and_hybrid_points_search_the_lexical_index(tmp_path: Path) -> None:
    units = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    store = ChromaStore(str(tmp_path), "eval-units", hnsw=EVAL_HNSW)
    lexical = LexicalIndex(tmp_path / "lexical", LexicalConfig(), filter_ids=store.ids_where)
    index_units(
        store, lexical, ["kettle boils water", "grinder burrs", "kettle lid"], units, ["a", "b", "c"], {}
    )
    assert lexical.describes(store.collection_id) and lexical.count() == 3
    query = np.array([[0.0, 1.0]], dtype=np.float32)  # dense side prefers b
    lexical_run = retriever_search(
        Retriever(FakeEmbedder(), store, lexical=lexical, search_type="lexical"),
        ["q"],
        ["kettle"],
        query,
        3,
        3,
        2,
    )
    assert set(lexical_run["q"]) == {"a", "c"}
    hybrid = Retriever(FakeEmbedder(), store, lexical=lexical, search_type="hybrid", fetch_k=3, k=2)
    assert set(retriever_search(hybrid, ["q"], ["kettle"], query, 3, 3, 3)["q"]) == {"a", "b", "c"}


def test_collection_names_are_valid_for_chroma_and_follow_the_key() -> None:
    name = collection_name({"search": "chroma", "pooling": "mean"})
    assert name == collection_name({"pooling": "mean", "search": "chroma"})  # key order does not matter
    assert name != collection_name({"search": "chroma", "pooling": "cls"})
    assert 3 <= len(name) <= 512 and name.replace("-", "").isalnum() and name[-1].isalnum()


@pytest.mark.skipif(not SCIFACT.is_dir(), reason=f"{SCIFACT} (shared datasets) is not present")
def test_chroma_and_exact_search_agree_on_a_scifact_subset(embedder: PoolingEmbedder, tmp_path: Path) -> None:
    dataset = subset(load_dataset(SCIFACT), queries=20, distractors=120)
    documents = list(dataset.documents())
    units = encode_blocks(embedder, [d.text for d in documents], ["mean"], "documents", False)["mean"]
    query_ids = list(dataset.qrels)
    queries = encode_blocks(embedder, [dataset.queries[q] for q in query_ids], ["mean"], "queries", False)
    unit_docs = [d.metadata["eval_id"] for d in documents]
    store = ChromaStore(str(tmp_path), "eval-scifact", hnsw=EVAL_HNSW)
    index_units(store, None, [d.text for d in documents], units, unit_docs, {"subset": True})
    chroma = retriever_search(
        Retriever(embedder, store, search_type="similarity"), query_ids, ["" for _ in query_ids],
        queries["mean"], len(units), len(documents), 100,
    )  # fmt: skip
    exact = exact_search(query_ids, queries["mean"], units, unit_docs, 100)
    assert store.count() == len(documents) == len(dataset.corpus_ids)
    metrics = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"]
    by_chroma, by_exact = evaluate(chroma, dataset.qrels, metrics), evaluate(exact, dataset.qrels, metrics)
    assert {m: round(v, 4) for m, v in by_chroma.items()} == {m: round(v, 4) for m, v in by_exact.items()}
    assert by_exact["ndcg@10"] > 0.5  # a real ranking, not two equally empty ones


def test_eval_search_modes_write_a_collection_and_cache_apart(
    beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import chromadb

    store = tmp_path / "store"
    args = ["eval", "--dataset", str(beir), "--json", "--cache-dir", str(tmp_path / "cache")]
    args += ["--set", f"store.path={store}", "--set", "retrieval.search_type=similarity"]
    assert main([*args, "--search", "chroma"]) == 0
    chroma = json.loads(capsys.readouterr().out)
    assert chroma["search"] == "chroma" and chroma["cached"] is False
    collections = chromadb.PersistentClient(path=str(store / "eval-collections")).list_collections()
    assert len(collections) == 1 and collections[0].name.startswith("eval-")
    assert collections[0].count() == len(CORPUS)
    assert main([*args, "--search", "exact"]) == 0  # another cache key: computed, not served
    exact = json.loads(capsys.readouterr().out)
    assert exact["search"] == "exact" and exact["cached"] is False
    assert {m: exact[m] for m in ("ndcg@10", "recall@100")} == {
        m: chroma[m] for m in ("ndcg@10", "recall@100")
    }
    assert main([*args, "--search", "chroma"]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is True
    assert main([*args, "--search", "exact"]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is True


def test_eval_table_says_which_search_ran(
    beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--dataset", str(beir), "--no-cache", "--search", "exact"]) == 0
    assert "; exact cosine search" in capsys.readouterr().out
    assert main(["eval", "--dataset", str(beir), "--no-cache", "--set", f"store.path={tmp_path}"]) == 0
    assert "; Chroma HNSW cosine search" in capsys.readouterr().out


def test_run_eval_checks_grid_keys_as_the_cli_does(beir: Path) -> None:
    dataset = load_dataset(beir)
    with pytest.raises(ConfigError, match=r"^retrieval\.kk: unknown key$"):
        run_eval(dataset, grid={"retrieval.kk": [1]})
    with pytest.raises(ConfigError, match=r"^retrieval\.alpha: 2: Input should be less than or equal to 1$"):
        run_eval(dataset, grid={"retrieval.alpha": [2]})
