"""Learned pooling: the attention head and query adapter, their files, and `rag-index train-pooling`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rag_index.cli import main
from rag_index.config import ConfigError
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.embed.learned import AttentionHead, QueryAdapter, file_hash, save
from rag_index.embed.pooling import mean
from rag_index.errors import StoreError
from rag_index.evaluation import load_dataset
from rag_index.storage.chroma import ChromaStore
from rag_index.training.data import split_queries
from rag_index.training.tokens import token_vectors

TOPICS = {
    "coffee": "Espresso is brewed by forcing hot water through finely ground coffee beans.",
    "tea": "Green tea leaves are steamed or pan fired to stop oxidation.",
    "bread": "Sourdough bread rises with wild yeast and lactic acid bacteria.",
    "cheese": "Cheese is made by curdling milk with rennet and ageing the curd.",
    "wine": "Wine ferments when yeast turns the sugar of grapes into alcohol.",
    "beer": "Beer is brewed from malted barley, hops, water and yeast.",
    "rice": "Rice paddies are flooded fields where rice plants grow in water.",
    "honey": "Bees make honey from flower nectar and store it in wax combs.",
}
QUESTIONS = {
    "coffee": "how is espresso made",
    "tea": "why are tea leaves steamed",
    "bread": "what makes sourdough rise",
    "cheese": "what curdles milk for cheese",
    "wine": "how do grapes become wine",
    "beer": "what is beer brewed from",
    "rice": "where does rice grow",
    "honey": "how do bees make honey",
}


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    """A BEIR folder of eight topics, each question judged against its topic's document (train split)."""
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"d-{t}", "title": t.title(), "text": text} for t, text in TOPICS.items()]
    corpus += [
        {"_id": f"x{i}", "title": "", "text": f"An unrelated note number {i} about trains."} for i in range(8)
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus) + "\n")
    queries = [{"_id": f"q-{t}", "text": q} for t, q in QUESTIONS.items()]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    lines = "".join(f"q-{t}\td-{t}\t1\n" for t in TOPICS)
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + lines)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + lines)
    return folder


def _head_file(tmp_path: Path, embedder: PoolingEmbedder, name: str = "head.safetensors") -> Path:
    path = tmp_path / name
    save(AttentionHead(embedder.dimension, embedder.facts.vocab_size), path, embedder.weights)
    return path


def test_an_untrained_head_is_mean_pooling_on_hand_made_tensors() -> None:
    tokens = torch.randn(3, 5, 8)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    ids = torch.randint(0, 50, (3, 5))
    head = AttentionHead(8, 50)
    assert torch.allclose(head(tokens, mask, ids), mean(tokens, mask), atol=1e-6)
    weights = head.weights(tokens, mask, ids)
    assert torch.equal(weights[0, 3:], torch.zeros(2))  # padding never weighs
    assert torch.allclose(weights.sum(1), torch.ones(3))


def test_a_head_weighs_tokens_by_its_bias() -> None:
    tokens = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    head = AttentionHead(2, 4)
    with torch.no_grad():
        head.b[3] = float(np.log(3.0))  # token 3 weighs three times token 1
    out = head(tokens, torch.ones(1, 2, dtype=torch.long), torch.tensor([[1, 3]]))
    assert torch.allclose(out, torch.tensor([[0.25, 0.75]]))


def test_attention_with_an_untrained_head_equals_mean_at_cosine_one(tiny_model: Path, tmp_path: Path) -> None:
    plain = PoolingEmbedder(str(tiny_model), pooling="mean", backend="torch", dtype="fp32", device="cpu")
    head = _head_file(tmp_path, plain)
    learned = PoolingEmbedder(
        str(tiny_model),
        pooling="attention",
        attention_head=str(head),
        backend="torch",
        dtype="fp32",
        device="cpu",
    )
    texts = ["a short one", "a much longer text about coffee, tea and the ways people brew them at home"]
    cosine = (plain.encode(texts) * learned.encode(texts)).sum(1)
    assert np.allclose(cosine, 1.0, atol=1e-6)


def test_an_identity_adapter_leaves_queries_as_they_are(tiny_model: Path, tmp_path: Path) -> None:
    plain = PoolingEmbedder(str(tiny_model), pooling="mean", backend="torch", dtype="fp32", device="cpu")
    path = tmp_path / "adapter.safetensors"
    save(QueryAdapter(plain.dimension), path, plain.weights)
    adapted = PoolingEmbedder(
        str(tiny_model), pooling="mean", query_adapter=str(path), backend="torch", dtype="fp32", device="cpu"
    )
    texts = ["how is espresso made"]
    assert np.allclose(adapted.encode_queries(texts), plain.encode_queries(texts), atol=1e-6)
    assert adapted.fingerprint == plain.fingerprint  # queries only: stored vectors stay valid
    with torch.no_grad():
        adapted.adapter.linear.weight.mul_(-1.0)  # type: ignore[union-attr]
    assert np.allclose(adapted.encode_queries(texts), -plain.encode_queries(texts), atol=1e-5)
    assert np.allclose(adapted.encode_documents(texts), plain.encode_documents(texts))


def test_a_collection_built_with_one_head_refuses_another(tiny_model: Path, tmp_path: Path) -> None:
    plain = PoolingEmbedder(str(tiny_model), pooling="mean", backend="torch", dtype="fp32", device="cpu")
    first = _head_file(tmp_path, plain, "first.safetensors")
    second = tmp_path / "second.safetensors"
    other = AttentionHead(plain.dimension, plain.facts.vocab_size)
    with torch.no_grad():
        other.b[100] = 1.0
    save(other, second, plain.weights)
    settings = {"pooling": "attention", "backend": "torch", "dtype": "fp32", "device": "cpu"}
    one = PoolingEmbedder(str(tiny_model), attention_head=str(first), **settings)
    two = PoolingEmbedder(str(tiny_model), attention_head=str(second), **settings)
    assert one.fingerprint["attention_head"] != two.fingerprint["attention_head"]
    ChromaStore(str(tmp_path / "store"), "docs").open(one.fingerprint)
    with pytest.raises(StoreError):
        ChromaStore(str(tmp_path / "store"), "docs").open(two.fingerprint, create=False)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"pooling": "attention"}, "needs embedder.attention_head"),
        (
            {"pooling": "attention", "attention_head": "missing.safetensors"},
            "missing.safetensors: no such file",
        ),
        ({"pooling": "attention", "attention_head": "garbage"}, "not a safetensors file"),
        ({"pooling": "attention", "attention_head": "adapter"}, "expected a attention file"),
        ({"pooling": "attention", "attention_head": "narrow"}, "do not fit this model"),
        ({"pooling": "attention", "attention_head": "foreign"}, "trained for another model"),
        (
            {"pooling": "cls", "query_adapter": "adapter"},
            "maps mean-pooled queries, but embedder.pooling is cls",
        ),
    ],
)
def test_bad_heads_and_adapters_are_one_line_naming_the_key(
    tiny_model: Path, tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    plain = PoolingEmbedder(str(tiny_model), pooling="mean", backend="torch", dtype="fp32", device="cpu")
    (tmp_path / "garbage").write_text("not tensors")
    save(QueryAdapter(plain.dimension), tmp_path / "adapter", plain.weights)
    save(AttentionHead(8, plain.facts.vocab_size), tmp_path / "narrow", plain.weights)
    save(AttentionHead(plain.dimension, plain.facts.vocab_size), tmp_path / "foreign", "another-model")
    files = {k: str(tmp_path / v) if k != "pooling" else v for k, v in settings.items()}
    with pytest.raises(ConfigError, match=message) as raised:
        PoolingEmbedder(str(tiny_model), backend="torch", dtype="fp32", device="cpu", **files)
    assert "embedder." in str(raised.value) and "\n" not in str(raised.value)


def test_token_vectors_are_cached_in_bf16_and_read_back(tiny_model: Path, tmp_path: Path) -> None:
    embedder = PoolingEmbedder(str(tiny_model), pooling="mean", backend="torch", dtype="fp32", device="cpu")
    texts = ["one", "two words", "and a third, longer text"]
    first, cached = token_vectors(embedder, texts, tmp_path, "texts", progress=False)
    again, cached_again = token_vectors(embedder, texts, tmp_path, "texts", progress=False)
    assert (cached, cached_again) == (False, True)
    assert first.states.dtype == torch.bfloat16 and torch.equal(first.states, again.states)
    assert list(first.lengths()) == [len(embedder.tokenizer.ids([t], 64)[0][0]) for t in texts]
    states, mask, _ = again.batch([0, 2])
    pooled = torch.nn.functional.normalize(mean(states, mask), dim=1).numpy()
    direct = embedder.encode([texts[0], texts[2]])
    assert np.allclose((pooled * direct).sum(1), 1.0, atol=1e-4)  # bf16 rounding only


def test_dev_queries_are_held_out_and_follow_the_seed() -> None:
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(10)}
    docs = [f"d{i}" for i in range(10)]
    one = split_queries(qrels, docs, 0.2, seed=1)
    assert len(one.dev) == 2 and not set(one.dev) & set(one.train)
    assert split_queries(qrels, docs, 0.2, seed=1) == one
    with pytest.raises(ConfigError, match="--dev-fraction"):
        split_queries(qrels, docs, 1.5, seed=1)


@pytest.mark.parametrize("kind", ["head", "adapter"])
def test_train_pooling_writes_a_file_the_embedder_uses_and_is_deterministic(
    beir: Path, tiny_model: Path, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--dataset", str(beir), "--kind", kind, "--epochs", "2", "--dev-fraction", "0.25", "-q"]
    common += ["--set", f"embedder.model={tiny_model}", "--set", f"store.path={tmp_path / 'store'}"]
    common += ["--set", "embedder.backend=torch", "--set", "embedder.dtype=fp32"]
    assert main(["train-pooling", *common, "--out", str(tmp_path / "one.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "epoch 0: dev nDCG@10 mean" in out and "epoch 1:" in out and "wrote" in out
    assert main(["train-pooling", *common, "--out", str(tmp_path / "two.safetensors"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cache_seconds"] == 0  # the second run read the token vectors back
    assert file_hash(tmp_path / "one.safetensors") == file_hash(tmp_path / "two.safetensors")
    key = "attention_head" if kind == "head" else "query_adapter"
    pooling = "attention" if kind == "head" else "mean"
    embedder = PoolingEmbedder(
        str(tiny_model),
        pooling=pooling,
        backend="torch",
        dtype="fp32",
        device="cpu",
        **{key: str(tmp_path / "one.safetensors")},
    )
    assert embedder.encode_queries(["how is espresso made"]).shape == (1, embedder.dimension)


def test_train_pooling_on_a_document_qa_folder(tiny_model: Path, tmp_path: Path) -> None:
    docs = tmp_path / "qa" / "docs"
    docs.mkdir(parents=True)
    for topic, text in TOPICS.items():
        (docs / f"{topic}.txt").write_text(f"{text}\n\n" + f"More about {topic}. " * 30)
    rows = "".join(f"{QUESTIONS[t]},*{t}*,x\n" for t in TOPICS)
    (tmp_path / "qa" / "qna_data.csv").write_text("Question,Source Docs,Answer\n" + rows)
    args = ["train-pooling", "--dataset", str(tmp_path / "qa"), "--out", str(tmp_path / "h.safetensors")]
    args += ["--epochs", "1", "-q", "--json", "--set", f"embedder.model={tiny_model}"]
    args += ["--set", f"store.path={tmp_path / 'store'}", "--set", "embedder.backend=torch"]
    assert main(args) == 0
    assert (tmp_path / "h.safetensors").stat().st_size < 200_000  # a few tens of thousands of floats


def test_eval_grid_over_mean_and_attention(beir: Path, tiny_model: Path, tmp_path: Path) -> None:
    plain = PoolingEmbedder(str(tiny_model), pooling="mean", backend="torch", dtype="fp32", device="cpu")
    head = _head_file(tmp_path, plain)
    args = ["eval", "--dataset", str(beir), "--grid", "embedder.pooling=mean,attention", "--json", "-q"]
    for item in [
        f"embedder.model={tiny_model}",
        f"embedder.attention_head={head}",
        "embedder.backend=torch",
        "embedder.dtype=fp32",
        f"store.path={tmp_path / 'store'}",
    ]:
        args += ["--set", item]
    assert main(args) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "no-such-folder"], "no-such-folder"),
        (["--dataset", "BEIR", "--split", "dev"], "no such split"),
        (["--dataset", "BEIR", "--dev-fraction", "0"], "--dev-fraction"),
        (["--dataset", "BEIR", "--epochs", "0"], "--epochs"),
        (["--dataset", "BEIR", "--out", "BEIR/corpus.jsonl/h.safetensors", "-q"], "cannot write"),
    ],
)
def test_train_pooling_mistakes_exit_2_with_one_line(
    beir: Path, tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.replace("BEIR", str(beir)) for a in args]
    assert main(["train-pooling", "--out", str(tmp_path / "h.safetensors"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_an_adapter_is_refused_beside_other_poolings_in_eval(
    beir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    plain = PoolingEmbedder(str(tiny_model), pooling="mean", backend="torch", dtype="fp32", device="cpu")
    adapter = tmp_path / "adapter.safetensors"
    save(QueryAdapter(plain.dimension), adapter, plain.weights)
    dataset = load_dataset(beir, "test")
    from rag_index.evaluation import EvalError, run_eval

    with pytest.raises(EvalError, match="query_adapter maps mean-pooled queries"):
        run_eval(
            dataset,
            grid={
                "embedder.pooling": ["mean", "cls"],
                "embedder.model": [str(tiny_model)],
                "embedder.query_adapter": [str(adapter)],
                "store.path": [str(tmp_path / "s")],
            },
            progress=False,
            search="exact",
        )


def test_attention_in_the_openvino_graph_equals_the_head_in_torch(tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino", reason="the optional openvino package is not installed")
    plain = PoolingEmbedder(str(tiny_model), pooling="mean", backend="torch", dtype="fp32", device="cpu")
    head = AttentionHead(plain.dimension, plain.facts.vocab_size)
    torch.manual_seed(3)
    with torch.no_grad():  # a head far from mean pooling: weights that differ per token and per vector
        head.a.normal_(0, 1.0)
        head.b.normal_(0, 2.0)
    path = tmp_path / "head.safetensors"
    save(head, path, plain.weights)
    settings = {"pooling": "attention", "attention_head": str(path), "dtype": "fp32", "device": "cpu"}
    in_torch = PoolingEmbedder(str(tiny_model), backend="torch", **settings)
    in_graph = PoolingEmbedder(str(tiny_model), backend="openvino", **settings)
    assert in_graph.graph_pooling and in_graph.backend.pooled
    texts = ["a short one", "a longer text about coffee and tea, brewed in many ways", "x"]
    vectors = in_graph.encode(texts)
    np.testing.assert_allclose(vectors, in_torch.encode(texts), atol=1e-4)
    assert not np.allclose(vectors, plain.encode(texts), atol=1e-3)  # the head did change the vectors
    assert in_graph.fingerprint == in_torch.fingerprint


def test_a_head_retrained_into_the_same_file_changes_the_embedder_key(
    tiny_model: Path, tmp_path: Path
) -> None:
    from rag_index.build import embedder_key
    from rag_index.embed.settings import EmbedderConfig

    plain = PoolingEmbedder(str(tiny_model), pooling="mean", backend="torch", dtype="fp32", device="cpu")
    path = _head_file(tmp_path, plain)
    config = EmbedderConfig(model=str(tiny_model), pooling="attention", attention_head=str(path))
    before = embedder_key(config)
    other = AttentionHead(plain.dimension, plain.facts.vocab_size)
    with torch.no_grad():
        other.a[0] = 1.0
    save(other, path, plain.weights)
    assert embedder_key(config) != before  # an index run then re-embeds instead of finding nothing changed
