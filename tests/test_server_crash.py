"""`kill -9` of a real `rag-index serve` while 8 clients write memories: every write that got a 2xx is in the
store after a restart, and `verify` finds no drift."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx
from chromadb.api.client import SharedSystemClient

from rag_index.api import RagIndex
from tests.served import served

CLIENTS = 8
ACKED_BEFORE_KILL = 40  # acknowledged writes before the kill: the clients are mid-stream when it lands


def test_every_acknowledged_write_survives_a_kill_9(tmp_path: Path, tiny_model: Path) -> None:
    settings = {"store.path": str(tmp_path / "store"), "embedder.model": str(tiny_model)}
    args = [item for key, value in settings.items() for item in ("--set", f"{key}={value}")]
    acked: list[str] = []
    enough = threading.Event()
    lock = threading.Lock()

    def write(url: str, client: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for n in range(10_000):
                body = {"texts": [f"client {client} remembers fact {n}"], "namespace": f"agent-{client}"}
                try:
                    response = http.post("/texts", json=body)
                except httpx.TransportError:
                    return  # the server is gone: this write was never acknowledged
                if response.status_code == 200:
                    with lock:
                        acked.extend(f"agent-{client}/{id_}" for id_ in response.json()["ids"])
                        if len(acked) >= ACKED_BEFORE_KILL:
                            enough.set()

    with served(args) as (url, process):
        threads = [threading.Thread(target=write, args=(url, i)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        assert enough.wait(timeout=300), "the writers were not acknowledged 40 times in five minutes"
        process.send_signal(signal.SIGKILL)
        for thread in threads:
            thread.join(timeout=120)
        assert process.wait(timeout=60) == -signal.SIGKILL

    SharedSystemClient.clear_system_cache()
    index = RagIndex(**settings)  # type: ignore[arg-type]
    with served(args):  # a restart finishes any interrupted text write first
        pass
    SharedSystemClient.clear_system_cache()
    stored = {chunk.id for chunk in index.get_by_ids(acked)}
    assert stored == set(acked), f"{len(set(acked) - stored)} acknowledged writes lost"
    drift, _ = index.verify()
    assert drift.ok, drift.to_dict()
    info = index.info()
    assert info["lexical_chunks"] == info["chunks"] == info["texts"] >= len(acked)
