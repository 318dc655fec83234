"""Index runs over HTTP (POST /index, GET /index/{run}) and the server beside a running index run: paths
confined to server.index_roots, searches answered while a run holds the store, writes refused with a 409."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag_index.api import RagIndex
from rag_index.server.auth import read_tokens
from rag_index.server.http import create_app
from tests.fakes import FakeEmbedder
from tests.served import REPO

TOKEN = "admin-token-0123456789"


def write_docs(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "kettle.txt").write_text("The office kettle was descaled on Monday and works again.\n")
    (root / "bikes.md").write_text("# Bikes\n\nBicycles are parked in the basement rack, bay 4.\n")
    return root


def app_over(tmp_path: Path, roots: list[str]) -> TestClient:
    index = RagIndex(
        store={"path": str(tmp_path / "store")}, server={"index_roots": roots}, embedder=FakeEmbedder()
    )
    index.create()
    return TestClient(create_app(index))


def finished(client: TestClient, run: str) -> dict:
    """The run's state once it is no longer running (a state, bounded at two minutes)."""
    for _ in range(1200):
        state = client.get(f"/index/{run}").json()
        if state["status"] != "running":
            return state
        time.sleep(0.1)
    raise AssertionError(f"index run {run} still running after two minutes")


def test_an_index_run_in_the_background_makes_its_files_searchable(tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs")
    client = app_over(tmp_path, [str(docs)])
    started = client.post("/index", json={"path": "."})
    assert started.status_code == 202 and started.json()["path"] == str(docs.resolve())
    state = finished(client, started.json()["run"])
    assert state["status"] == "done" and state["report"]["files_indexed"] == 2, state
    assert state["files_parsed"] == 2 and state["chunks_written"] >= 2
    hits = client.post("/search", json={"query": "where are bicycles parked", "k": 1}).json()["hits"]
    assert hits[0]["metadata"]["source"] == "bikes.md"
    again = finished(client, client.post("/index", json={"path": str(docs)}).json()["run"])
    assert again["report"]["files_unchanged"] == 2 and again["report"]["chunks_written"] == 0
    assert client.get("/index/no-such-run").status_code == 404


def test_paths_outside_the_roots_are_refused_with_the_reason(tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs")
    outside = write_docs(tmp_path / "outside")
    (docs / "escape").symlink_to(outside, target_is_directory=True)
    assert app_over(tmp_path / "a", []).post("/index", json={"path": str(docs)}).status_code == 403
    client = app_over(tmp_path / "b", [str(docs)])
    for path, reason in [
        ("../outside", "'..' is not allowed"),
        (str(outside), "outside the index roots"),
        ("escape", "outside the index roots"),  # a symlink out of the root
        ("/etc", "outside the index roots"),
    ]:
        response = client.post("/index", json={"path": path})
        assert response.status_code == 403, path
        error = response.json()["error"]
        assert reason in error["message"] and error["field"] == "path"
    missing = client.post("/index", json={"path": "nothing-here"})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "path"
    assert client.post("/index", json={"path": 3}).status_code == 422
    assert client.get("/info").json()["chunks"] == 0  # nothing was indexed by any of them


def test_a_token_bound_to_namespaces_cannot_start_an_index_run(tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs")
    index = RagIndex(
        store={"path": str(tmp_path / "store")}, server={"index_roots": [str(docs)]}, embedder=FakeEmbedder()
    )
    token_file = tmp_path / "tokens"
    token_file.write_text(f"{TOKEN}\nagent-token-0123456789 agent\n")
    client = TestClient(create_app(index, read_tokens(token_file)))
    bound = {"authorization": "Bearer agent-token-0123456789"}
    assert client.post("/index", json={"path": "."}, headers=bound).status_code == 403
    assert client.post("/index", json={"path": "."}).status_code == 401
    admin = {"authorization": f"Bearer {TOKEN}"}
    assert client.post("/index", json={"path": "."}, headers=admin).status_code == 202


def test_searches_answer_while_an_index_run_writes_and_writes_get_a_409(
    tmp_path: Path, tiny_model: Path
) -> None:
    """A real `rag-index index` process paused inside its first commit, holding the store's lock."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(4):
        (docs / f"part {i}.txt").write_text(f"Part {i} of the manual: the pump pressure is {i} bar.\n" * 30)
    settings = {
        "store.path": str(tmp_path / "store"),
        "embedder.model": str(tiny_model),
        "embedder.pooling": "mean",
        "embedder.device": "cpu",
    }
    index = RagIndex(**settings)  # type: ignore[arg-type]
    index.create()
    index.add_texts(["the pump was serviced in May"], ids=["before"])
    client = TestClient(create_app(index, write_wait=0.5))
    marker = tmp_path / "paused"
    command = [sys.executable, "-m", "tests.crash_cli", f"pause:committed:1:{marker}", "index", str(docs)]
    for key, value in settings.items():
        command += ["--set", f"{key}={value}"]
    run = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while run.poll() is None and not marker.exists():
            time.sleep(0.01)
        assert marker.exists(), "the index run ended before it paused"
        searched = client.post("/search", json={"query": "pump serviced", "k": 3})
        assert searched.status_code == 200 and searched.json()["hits"]
        refused = client.post("/texts", json={"texts": ["a new memory"], "ids": ["during"]})
        assert refused.status_code == 409, refused.text
        assert "is writing to" in refused.json()["error"]["message"]
        assert client.delete("/texts/before").status_code == 409
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
    assert client.post("/texts", json={"texts": ["a new memory"], "ids": ["after"]}).status_code == 200
    assert client.get("/texts/after").status_code == 200


@pytest.mark.parametrize("prune", [True, False])
def test_prune_is_passed_to_the_run(tmp_path: Path, prune: bool) -> None:
    docs = write_docs(tmp_path / "docs")
    client = app_over(tmp_path, [str(docs)])
    finished(client, client.post("/index", json={"path": "."}).json()["run"])
    (docs / "kettle.txt").unlink()
    state = finished(client, client.post("/index", json={"path": ".", "prune": prune}).json()["run"])
    assert state["report"]["files_removed"] == (1 if prune else 0)


def test_a_stopping_server_ends_its_index_run_and_the_next_run_finishes_it(tmp_path: Path) -> None:
    """The run waits inside its first commit (an injected checkpoint) until the server is stopping."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"note {i}.txt").write_text(f"Note {i}: the boiler is checked every {i} weeks.\n\n" * 120)
    reached, go = threading.Event(), threading.Event()

    def hold(point: str) -> None:
        if point == "committed" and not reached.is_set():
            reached.set()
            go.wait(timeout=120)

    store, chunking = {"path": str(tmp_path / "store")}, {"size": 40, "overlap": 5}  # a write batch a file
    roots = {"index_roots": [str(docs)]}
    index = RagIndex(store=store, chunking=chunking, server=roots, embedder=FakeEmbedder(), checkpoint=hold)
    index.create()
    app = create_app(index)
    client = TestClient(app)
    run = client.post("/index", json={"path": "."}).json()["run"]
    assert reached.wait(timeout=120), "the run never committed its first file"
    stopper = threading.Thread(target=app.state.runs.stop)
    stopper.start()
    while not app.state.runs.stopping.is_set():
        time.sleep(0.01)
    go.set()
    stopper.join(timeout=120)
    state = app.state.runs.get(run).to_dict()
    assert state["status"] == "stopped" and "next run" in state["error"], state
    assert state["chunks_written"] > 0  # stopped after its first batch, before the last
    fresh = RagIndex(store=store, chunking=chunking, embedder=FakeEmbedder())
    report = fresh.index(docs)
    assert report.files_indexed + report.files_unchanged == 12 and report.files_indexed > 0
    assert fresh.verify()[0].ok
