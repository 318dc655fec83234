"""`rag-index serve`'s HTTP app: the contract (search, texts, info, health, OpenAPI), namespaces nobody can
escape, bearer tokens bound to namespaces, and JSON errors naming the field, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from rag_index.api import RagIndex
from rag_index.server.auth import read_tokens
from rag_index.server.http import MAX_BODY, create_app
from tests.conftest import DATA, Occupancy, wait_until
from tests.fakes import FakeEmbedder
from tests.served import free_port

REPO = Path(__file__).resolve().parents[1]
ADA, BOB = "ada-token-0123456789", "bob-token-0123456789"


@pytest.fixture
def index(tmp_path: Path) -> RagIndex:
    index = RagIndex(store={"path": str(tmp_path / "store")}, embedder=FakeEmbedder())
    index.index(DATA)
    return index


@pytest.fixture
def client(index: RagIndex) -> TestClient:
    return TestClient(create_app(index))


def test_search_texts_info_and_health_follow_the_contract(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    added = client.post(
        "/texts", json={"texts": ["Ada takes oat milk", "Ada parks in bay 4"], "ids": ["m1", "m2"]}
    )
    assert added.status_code == 200 and added.json() == {"ids": ["m1", "m2"]}
    hits = client.post("/search", json={"query": "oat milk", "k": 3}).json()["hits"]
    assert hits[0]["id"] == "m1" and {"id", "score", "text", "metadata"} <= set(hits[0])
    assert "dense_score" in hits[0]["metadata"]  # the explanation of the fused score
    dense = client.post("/search", json={"query": "oat milk", "k": 2, "search_type": "similarity"}).json()
    assert len(dense["hits"]) == 2 and "dense_score" not in dense["hits"][0]["metadata"]
    assert client.get("/texts/m1").json() == {"id": "m1", "text": "Ada takes oat milk", "metadata": {}}
    assert client.delete("/texts/m1").json() == {"deleted": ["m1"]}
    assert client.get("/texts/m1").status_code == 404
    assert client.get("/info").json()["texts"] == 1
    assert "/search" in client.get("/openapi.json").json()["paths"]


def test_a_namespace_sees_only_its_own_texts_whatever_the_filter(client: TestClient) -> None:
    for name, text in [("ada", "Ada's secret is oat milk"), ("bob", "Bob's secret is oat milk")]:
        assert client.post("/texts", json={"texts": [text], "ids": ["s"], "namespace": name}).json() == {
            "ids": ["s"]
        }
    hits = client.post("/search", json={"query": "secret oat milk", "k": 10, "namespace": "ada"}).json()[
        "hits"
    ]
    assert [h["text"] for h in hits] == ["Ada's secret is oat milk"] and hits[0]["id"] == "s"
    escape = {"$or": [{"namespace": "bob"}, {"namespace": "ada"}]}
    hits = client.post("/search", json={"query": "secret", "namespace": "ada", "where": escape}).json()[
        "hits"
    ]
    assert {h["metadata"]["namespace"] for h in hits} == {"ada"}
    assert client.get("/texts/s", params={"namespace": "bob"}).json()["text"] == "Bob's secret is oat milk"
    assert client.delete("/texts/s", params={"namespace": "carol"}).status_code == 404  # not carol's
    forged = client.post(
        "/texts", json={"texts": ["x"], "metadatas": [{"namespace": "bob"}], "namespace": "ada"}
    )
    assert forged.status_code == 422 and forged.json()["error"]["field"] == "metadatas.0.namespace"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/search", {"query": ""}, 422, "query"),
        ("post", "/search", {"query": "x", "k": 0}, 422, "k"),
        ("post", "/search", {"query": "x", "alpha": 2}, 422, "alpha"),
        ("post", "/search", {"query": "x", "namespace": "../etc"}, 422, "namespace"),
        ("post", "/texts", {"texts": []}, 422, "texts"),
        ("post", "/texts", {"texts": ["  "]}, 422, "texts.0"),
        ("post", "/texts", {"texts": ["x"], "metadatas": [{"a": {"b": 1}}]}, 422, "metadatas.0.a"),
        ("post", "/texts", {"texts": ["x"], "bogus": 1}, 422, "bogus"),
        ("get", "/texts/nope", None, 404, "id"),
    ],
)
def test_bad_requests_get_a_json_error_naming_the_field(
    client: TestClient, method: str, path: str, body: dict | None, status: int, field: str | None
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["message"] and "Traceback" not in response.text


def test_oversized_bodies_are_refused_unread(client: TestClient) -> None:
    response = client.post("/texts", content=b"x", headers={"content-length": str(MAX_BODY + 1)})
    assert response.status_code == 413 and "request body over" in response.json()["error"]["message"]


def test_tokens_are_required_and_bound_to_their_namespaces(index: RagIndex, tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text(f"# agents\n{ADA} ada\n{BOB} bob,shared\n")
    client = TestClient(create_app(index, read_tokens(token_file)))
    assert client.get("/health").status_code == 200  # the one route without a token
    assert client.post("/search", json={"query": "x"}).status_code == 401
    wrong = {"authorization": "Bearer not-a-token-at-all"}
    assert client.post("/search", json={"query": "x", "namespace": "ada"}, headers=wrong).status_code == 401
    ada = {"authorization": f"Bearer {ADA}"}
    assert client.post("/texts", json={"texts": ["a"], "namespace": "ada"}, headers=ada).status_code == 200
    assert client.post("/search", json={"query": "a", "namespace": "bob"}, headers=ada).status_code == 403
    assert client.post("/search", json={"query": "a"}, headers=ada).status_code == 403  # the whole collection
    bob = {"authorization": f"Bearer {BOB}"}
    assert client.get("/texts/x", params={"namespace": "ada"}, headers=bob).status_code == 403


def test_a_token_file_with_a_short_token_names_its_line(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text(f"{ADA}\nshort\n")
    with pytest.raises(Exception, match=r"tokens line 2: expected a token of 16\+ characters"):
        read_tokens(token_file)


def test_the_serve_command_answers_on_loopback_and_stops_on_sigterm(tmp_path: Path, tiny_model: Path) -> None:
    port = free_port()
    settings = ["--set", f"store.path={tmp_path / 'store'}", "--set", f"embedder.model={tiny_model}"]
    command = [sys.executable, "-m", "rag_index.cli", "serve", "--port", str(port), *settings]
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # printed once the model is loaded, before serving
        assert f"on http://127.0.0.1:{port} (no token: loopback only)" in line, server.stderr.read()
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):  # until uvicorn listens (a state, not a duration: bounded at 60 s)
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        added = httpx.post(f"{url}/texts", json={"texts": ["kettle is broken"], "ids": ["k"]}, timeout=60)
        assert added.json() == {"ids": ["k"]}
        assert (
            httpx.post(f"{url}/search", json={"query": "kettle"}, timeout=60).json()["hits"][0]["id"] == "k"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0


def test_binding_beyond_loopback_without_tokens_is_refused(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "rag_index.cli", "serve", "--host", "0.0.0.0"]
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    assert result.returncode == 2 and "binding beyond loopback needs --token-file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_searches_run_side_by_side_with_each_other_and_with_writes(index: RagIndex) -> None:
    """The service takes no lock for searches (writes take turns): concurrent searches give what one at a
    time gives, and searches while memories are written in other namespaces never fail or leak."""
    from concurrent.futures import ThreadPoolExecutor

    from rag_index.server.service import Service

    service = Service(index)
    service.remember(["Ada keeps the spare key under the blue pot"], namespace="ada")
    queries = ["spare key", "warranty", "descaling the machine", "blue pot", "opening hours"] * 8
    alone = [service.search(query, 3) for query in queries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda query: service.search(query, 3), queries)) == alone

        def write(n: int) -> list[str]:
            return service.remember([f"Bob's note {n} about the blue pot"], namespace="bob")

        writes = [pool.submit(write, n) for n in range(16)]
        searches = [pool.submit(service.search, "blue pot", 5, "ada") for _ in range(32)]
        assert all(len(future.result()) == 1 for future in writes)
        for future in searches:
            assert [hit["text"] for hit in future.result()] == ["Ada keeps the spare key under the blue pot"]
    assert len(service.search("Bob's note blue pot", 20, "bob")) == 16


def test_at_most_server_searches_run_at_once(index: RagIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """More searches at once than server.searches queue: Chroma holds Python's lock while it writes, and
    more concurrent searches starve the memory writes (docs/benchmarks/serve.md)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from rag_index.server.service import Service

    occupancy, release = Occupancy(), threading.Event()
    search = RagIndex.search

    def held(self: RagIndex, *args: Any, **kwargs: Any) -> Any:
        with occupancy:
            release.wait()
        return search(self, *args, **kwargs)

    monkeypatch.setattr(RagIndex, "search", held)
    service = Service(index)
    assert index.config.server.searches == 2
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(service.search, "warranty", 3) for _ in range(6)]
        wait_until(lambda: occupancy.inside >= 2)  # two searches are in
        release.set()
        assert all(future.result() for future in futures)
    assert occupancy.most == 2


def test_writes_waiting_together_are_added_as_one(index: RagIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory writes that wait for a running write share the next one (one Chroma upsert), and each
    caller gets its own ids; a request's own mistake stays its own."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from rag_index.errors import FieldError
    from rag_index.server.service import Service

    calls: list[list[str]] = []
    entered, gate = threading.Event(), threading.Event()
    add_texts = RagIndex.add_texts

    def gated(self: RagIndex, texts: list[str], *args: Any, **kwargs: Any) -> list[str]:
        calls.append(list(texts))
        entered.set()
        gate.wait()
        return add_texts(self, texts, *args, **kwargs)

    monkeypatch.setattr(RagIndex, "add_texts", gated)
    service = Service(index)
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(service.remember, ["Ada parks in bay 4"], None, ["a1"], "ada")
        entered.wait()  # the first write runs alone; the next three wait for it
        bob = pool.submit(service.remember, ["Bob takes tea", "Bob cycles"], None, ["b1", "b2"], "bob")
        carol = pool.submit(service.remember, ["Carol is on call"], None, ["c1"], "carol")
        wait_until(lambda: len(service._writes._waiting) >= 2)
        with pytest.raises(FieldError, match=r"texts\[0\]"):
            service.remember(["  "], namespace="dave")  # refused before it joins anyone
        gate.set()
        assert (first.result(), bob.result(), carol.result()) == (["a1"], ["b1", "b2"], ["c1"])
    assert calls[0] == ["Ada parks in bay 4"]
    assert sorted(calls[1]) == ["Bob cycles", "Bob takes tea", "Carol is on call"]
    assert service.get("b2", "bob")["text"] == "Bob cycles" and service.get("c1", "carol")["text"]
