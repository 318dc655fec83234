"""RagIndex.remote(url): a running server as an index, and the LangChain adapters over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag_index.api import RagIndex
from rag_index.errors import FieldError, RagIndexError, StoreError
from rag_index.remote import RemoteIndex
from rag_index.server.auth import read_tokens
from rag_index.server.http import create_app
from tests.conftest import DATA
from tests.fakes import FakeEmbedder
from tests.served import free_port

TOKEN = "app-token-0123456789"


@pytest.fixture
def local(tmp_path: Path) -> RagIndex:
    index = RagIndex(
        store={"path": str(tmp_path / "store")}, server={"index_roots": [str(DATA)]}, embedder=FakeEmbedder()
    )
    index.index(DATA)
    return index


def remote(local: RagIndex, namespace: str | None = None, token: str | None = TOKEN) -> RemoteIndex:
    """A RemoteIndex whose HTTP client is the app in process (TestClient is an httpx.Client)."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    tokens = read_tokens(write_tokens(local)) if token else None
    client = TestClient(create_app(local, tokens), base_url="http://testserver", headers=headers)
    return RemoteIndex("http://testserver", namespace=namespace, client=client)


def write_tokens(local: RagIndex) -> Path:
    path = Path(local.config.store.path).parent / "tokens"
    path.write_text(f"{TOKEN}\n")
    return path


def test_remote_search_is_the_local_search(local: RagIndex) -> None:
    served = remote(local)
    question = "How long does the Aurora grinder warranty last?"
    for options in [{}, {"search_type": "similarity"}, {"alpha": 0.7, "fetch_k": 10}]:
        here = local.search(question, 3, **options)
        there = served.search(question, 3, **options)
        assert [(h.id, round(h.score, 6)) for h in there] == [(h.id, round(h.score, 6)) for h in here]
    where = {"source": "faq.txt"}
    assert {h.metadata["source"] for h in served.search(question, 5, where=where)} == {"faq.txt"}
    assert served.info()["chunks"] == local.info()["chunks"]


def test_texts_round_trip_in_a_namespace(local: RagIndex) -> None:
    ada, bob = remote(local, "ada"), remote(local, "bob")
    assert ada.add_texts(["Ada's desk is by the window"], [{"kind": "fact"}], ["desk"]) == ["desk"]
    bob.add_texts(["Bob's desk is by the door"], ids=["desk"])
    assert [c.text for c in ada.get_by_ids(["desk", "nope"])] == ["Ada's desk is by the window"]
    assert ada.get_by_ids(["desk"])[0].metadata == {"kind": "fact", "namespace": "ada"}
    hits = ada.search("desk window door", 5, search_type="similarity")
    assert "Bob's desk is by the door" not in [h.text for h in hits]
    assert ada.delete(["desk", "nope"]) == ["desk"]
    assert ada.get_by_ids(["desk"]) == [] and len(bob.get_by_ids(["desk"])) == 1


def test_the_langchain_adapters_point_at_the_server(local: RagIndex) -> None:
    docs = remote(local).as_retriever(k=2, search_type="similarity").invoke("grinder warranty")
    assert len(docs) == 2 and docs[0].metadata["score"] > 0
    store = remote(local, "app").as_vectorstore()  # a namespace searches its own texts only
    assert store.embeddings is None  # the model is on the server
    ids = store.add_texts(["the espresso machine needs descaling monthly"], ids=["m1"])
    found = store.similarity_search("espresso descaling", k=1)
    assert ids == ["m1"] and found[0].page_content.startswith("the espresso machine")
    assert store.delete(["m1"]) and store.get_by_ids(["m1"]) == []
    with pytest.raises(RagIndexError, match="searches by text"):
        store.similarity_search_by_vector([0.0] * 64)


def test_mistakes_fail_with_the_field_named(local: RagIndex) -> None:
    served = remote(local)
    with pytest.raises(FieldError, match="alhpa: not a retrieval option"):
        served.search("x", alhpa=0.5)  # caught before anything is sent
    with pytest.raises(ValueError, match=r"retrieval\.alpha"):  # as the local retriever: pydantic wraps it
        served.as_retriever(alpha=3.0)
    with pytest.raises(FieldError) as bad:
        served.add_texts([""])
    assert bad.value.field == "texts.0"
    no_token = TestClient(create_app(local, read_tokens(write_tokens(local))))
    with pytest.raises(RagIndexError, match="bearer token"):
        RemoteIndex("http://testserver", client=no_token).search("x")
    with pytest.raises(StoreError, match="does not answer"):
        RemoteIndex(f"http://127.0.0.1:{free_port()}", timeout=5).search("x")


def test_the_server_indexes_a_path_under_its_roots(local: RagIndex) -> None:
    report = remote(local).index(".")
    assert report["files_unchanged"] > 0 and report["files_indexed"] == report["chunks_written"] == 0
    with pytest.raises(RagIndexError, match="outside the index roots"):
        remote(local).index("/etc")
