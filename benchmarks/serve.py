"""rag-index serve under load: 1, 8 and 32 clients searching and writing memories over HTTP.

Run: python benchmarks/serve.py [--docs 2000] [--requests 400] [--clients 1,8,32] [--writes 0.2]
        [--store DIR] [--plot docs/benchmarks/serve.png]
Indexes the first --docs SciFact abstracts with `rag-index index` (the default config) into --store, starts
`rag-index serve` on it, and sends --requests requests at each concurrency: searches (the SciFact test
claims, default hybrid search) and, a --writes share of them, memory writes in one namespace per client.
Side by side in the same run: RagIndex.search in process (the floor a server adds to), one `rag-index query`
process per call (what a tool pays without a server), and the framework's own cost per request (FastAPI
against plain Starlette, a validated JSON echo). After the load, the server is killed with SIGKILL and
restarted: every write that got a 2xx must be in the store. Prints tables and one JSON line.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _common import SCIFACT, emit, machine, require, scifact_corpus
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rag_index.api import RagIndex
from rag_index.evaluation.datasets import load_beir

RAG_INDEX = str(Path(sys.executable).with_name("rag-index"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def build_index(store: Path, docs: int) -> None:
    """The first docs SciFact abstracts, one .txt each, indexed with the CLI (reused when present)."""
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        for doc_id, text in zip(*scifact_corpus(docs), strict=True):
            (Path(folder) / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        subprocess.run([RAG_INDEX, "index", folder, "--set", f"store.path={store}"], check=True)


def start_server(store: Path, port: int) -> subprocess.Popen[str]:
    """`rag-index serve` on the store, once /health answers."""
    command = [RAG_INDEX, "serve", "--port", str(port), "--set", f"store.path={store}"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while True:
        if server.poll() is not None:
            sys.exit(f"benchmark: the server exited: {server.stderr.read() if server.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    if not seconds:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    ms = np.asarray(seconds) * 1000
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)}


def load(url: str, clients: int, requests: int, writes: float, queries: list[str]) -> dict[str, Any]:
    """requests requests from clients threads, a writes share of them memory writes; latencies and acks."""
    rng = np.random.default_rng(clients)
    plan = ["write" if rng.random() < writes else "search" for _ in range(requests)]
    cursor, lock = iter(enumerate(plan)), threading.Lock()
    timings: dict[str, list[float]] = {"search": [], "write": []}
    acked: list[str] = []
    failures: list[str] = []

    def client(number: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            while True:
                with lock:
                    item = next(cursor, None)
                if item is None:
                    return
                n, kind = item
                if kind == "search":
                    body: dict[str, Any] = {"query": queries[n % len(queries)], "k": 5}
                else:
                    text = f"client {number} of {clients} noted fact {n}: {queries[n % len(queries)]}"
                    body = {"texts": [text], "namespace": f"agent-{number}"}
                began = time.perf_counter()
                try:
                    response = http.post(f"/{'search' if kind == 'search' else 'texts'}", json=body)
                except httpx.TransportError as err:
                    with lock:
                        failures.append(f"{kind}: {err}")
                    continue
                took = time.perf_counter() - began
                with lock:
                    if response.status_code != 200:
                        failures.append(f"{kind}: HTTP {response.status_code} {response.text[:120]}")
                        continue
                    timings[kind].append(took)
                    if kind == "write":
                        acked.extend(f"agent-{number}/{id_}" for id_ in response.json()["ids"])

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    every = timings["search"] + timings["write"]
    return {
        "clients": clients,
        "requests": requests,
        "failed": len(failures),
        "failures": failures[:5],
        "requests_per_s": round(len(every) / wall, 1),
        "all": percentiles(every),
        "search": percentiles(timings["search"]),
        "write": percentiles(timings["write"]),
        "writes_acked": len(acked),
        "acked_ids": acked,
    }


def in_process(store: Path, queries: list[str]) -> dict[str, float]:
    """RagIndex.search in this process, one query after another: what the server adds to."""
    index = RagIndex(store={"path": str(store)})
    index.search(queries[0])  # the model loaded, the store opened
    took = []
    for query in queries:
        began = time.perf_counter()
        index.search(query, 5)
        took.append(time.perf_counter() - began)
    return percentiles(took)


def process_per_call(store: Path, queries: list[str]) -> dict[str, float]:
    """One `rag-index query` process per search: what a tool pays without a server."""
    took = []
    for query in queries:
        began = time.perf_counter()
        command = [RAG_INDEX, "query", query, "--set", f"store.path={store}"]
        subprocess.run(command, check=True, capture_output=True)
        took.append(time.perf_counter() - began)
    return percentiles(took)


class EchoBody(BaseModel):
    """The shape of a search request, for the framework comparison."""

    query: str
    k: int = 5


def echo_fastapi() -> FastAPI:
    """A validated JSON echo on FastAPI (the request model checks the body)."""
    app = FastAPI()

    @app.post("/echo")
    def echo(body: EchoBody) -> dict[str, Any]:
        return {"hits": [body.query] * body.k}

    return app


def echo_starlette() -> Starlette:
    """The same echo on plain Starlette, the body checked by hand."""

    async def echo(request: Request) -> JSONResponse:
        data = await request.json()
        query, k = data.get("query"), data.get("k", 5)
        if not isinstance(query, str) or not isinstance(k, int):
            return JSONResponse({"error": {"message": "query: expected a string", "field": "query"}}, 422)
        return JSONResponse({"hits": [query] * k})

    return Starlette(routes=[Route("/echo", echo, methods=["POST"])])


def framework_overhead(requests: int) -> dict[str, dict[str, float]]:
    """p50 of a validated JSON echo on FastAPI and on plain Starlette, each served by uvicorn here."""
    import uvicorn

    results = {}
    for name, app in [("fastapi", echo_fastapi()), ("starlette", echo_starlette())]:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        took = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            for n in range(requests):
                began = time.perf_counter()
                http.post("/echo", json={"query": f"question {n}", "k": 5}).raise_for_status()
                took.append(time.perf_counter() - began)
        server.should_exit = True
        thread.join()
        results[name] = percentiles(took[requests // 10 :])  # the first tenth warms up
    return results


def missing_writes(store: Path, acked: list[str]) -> int:
    """How many acknowledged writes a new process does not find in the store."""
    index = RagIndex(store={"path": str(store)})
    found = {chunk.id for chunk in index.get_by_ids(acked)}
    return len(set(acked) - found)


def draw(levels: list[dict[str, Any]], floor: dict[str, float], path: Path) -> None:
    """Latency percentiles against concurrency, the in-process p50 as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, NullLocator, ScalarFormatter

    fig, ax = plt.subplots(figsize=(6, 3.6))
    clients = [level["clients"] for level in levels]
    for q, style in [("p50_ms", "o-"), ("p95_ms", "s--"), ("p99_ms", "^:")]:
        ax.plot(clients, [level["all"][q] for level in levels], style, label=f"server {q[:3]}")
    ax.axhline(floor["p50_ms"], color="grey", linewidth=1, label="in process p50")
    ax.set(xscale="log", yscale="log", xlabel="concurrent clients", ylabel="latency (ms)")
    ax.set_xticks(clients, [str(c) for c in clients])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_title("rag-index serve: searches and memory writes")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    """Build, serve, load at each concurrency, compare, kill and check the writes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--writes", type=float, default=0.2, help="share of requests that write a memory")
    parser.add_argument("--cli-calls", type=int, default=5, help="searches timed as one process each")
    parser.add_argument("--store", type=Path, help="index folder to build or reuse (default: temporary)")
    parser.add_argument("--plot", type=Path, help="write the latency plot (PNG) here")
    args = parser.parse_args()

    queries = list(load_beir(require(SCIFACT), "test").queries.values())
    with tempfile.TemporaryDirectory(prefix="bench-serve-store-") as temporary:
        store = args.store or Path(temporary) / "store"
        if not store.exists():
            build_index(store, args.docs)
        port = free_port()
        server = start_server(store, port)
        url = f"http://127.0.0.1:{port}"
        levels, acked = [], []
        try:
            httpx.post(f"{url}/search", json={"query": queries[0]}, timeout=120)  # warm
            for clients in (int(c) for c in args.clients.split(",")):
                level = load(url, clients, args.requests, args.writes, queries)
                acked += level.pop("acked_ids")
                levels.append(level)
        finally:
            server.send_signal(signal.SIGKILL)  # the hardest stop: acknowledged writes must survive it
            server.wait()
        missing = missing_writes(store, acked)
        floor = in_process(store, queries[:200])
        per_call = process_per_call(store, queries[: args.cli_calls])
    frameworks = framework_overhead(2000)

    print(
        f"{'clients':>7} {'req/s':>7} {'failed':>6} {'p50':>7} {'p95':>7} {'p99':>7}  search p50  write p50"
    )
    for level in levels:
        every = level["all"]
        print(
            f"{level['clients']:>7} {level['requests_per_s']:>7} {level['failed']:>6} {every['p50_ms']:>7} "
            f"{every['p95_ms']:>7} {every['p99_ms']:>7}  {level['search']['p50_ms']:>10}  "
            f"{level['write']['p50_ms']:>9}"
        )
    print(f"in process: search p50 {floor['p50_ms']} ms, p95 {floor['p95_ms']} ms")
    print(f"one `rag-index query` process per call: p50 {per_call['p50_ms']} ms")
    print(
        f"framework, validated JSON echo p50: FastAPI {frameworks['fastapi']['p50_ms']} ms, "
        f"Starlette {frameworks['starlette']['p50_ms']} ms"
    )
    print(f"writes acknowledged: {len(acked)}, missing after SIGKILL and restart: {missing}")
    if args.plot:
        draw(levels, floor, args.plot)
        print(f"plot: {args.plot}")
    emit(
        {
            "benchmark": "serve",
            "machine": machine(),
            "docs": args.docs,
            "levels": levels,
            "in_process": floor,
            "process_per_call": per_call,
            "frameworks": frameworks,
            "writes_acked": len(acked),
            "writes_missing_after_kill": missing,
        }
    )


if __name__ == "__main__":
    main()
