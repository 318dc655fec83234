"""Scale-out figures: the local engine against Ray with 1 and 2 actors, and a Chroma server's write rate.

    python benchmarks/scale.py [--limit N] [--chunks N] [--set KEY=VALUE ...] [FOLDER]

FOLDER (default: the 20 sec-10q PDFs) is indexed into a fresh embedded store three times, at the same core
count: the local engine (all cores), Ray with 1 actor of all cores, Ray with 2 actors of half the cores
each, on one Ray instance started beforehand (its start-up is printed apart). Ray's overhead is its time
over the local run's. Then one `chroma run` server takes --chunks chunks (384-d vectors, 256 per upsert,
as the ChunkWriter sends them) from 1, 2 and 4 writer processes at once. From those, a table projects N
nodes: per-node throughput of the 1-actor run times N, capped by the best measured server write rate.

--limit N indexes only the first N files; --set overrides the config (a smoke run: --limit 1 --chunks 512
--set embedder.model=TINY_MODEL_FOLDER). Take figures on a quiet machine: it prints the load average.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import SEC10Q, emit, machine, require

from rag_index.config import load_config
from rag_index.index.cache import text_hash
from rag_index.index.local import index_with_config
from rag_index.storage.chroma import TEXT_HASH_KEY, ChromaStore, Server
from rag_index.types import Chunk

CHROMA = Path(sys.executable).parent / "chroma"  # chromadb's own CLI, installed beside this Python
DIMENSION = 384  # all-MiniLM-L6-v2's
UPSERT = 256  # rag_index.storage.writer.WRITE_BATCH
FINGERPRINT = {"benchmark": "write rate", "dimension": DIMENSION}
NODES = (1, 2, 4, 8, 16, 32)


def index_runs(folder: Path, tmp: Path, sets: list[str], cores: int) -> dict[str, dict[str, Any]]:
    """Index folder with each engine into its own fresh store; the report and wall seconds of each."""
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, logging_level="WARNING")
    ray_start = time.perf_counter() - started
    half = max(1, cores // 2)
    setups = {
        "local": ["engine.kind=local"],
        "ray, 1 actor": ["engine.kind=ray", "engine.actors=1", f"engine.cpus_per_actor={cores}"],
        "ray, 2 actors": ["engine.kind=ray", "engine.actors=2", f"engine.cpus_per_actor={half}"],
    }
    runs: dict[str, dict[str, Any]] = {}
    try:
        for label, engine in setups.items():
            config = load_config(None, [f"store.path={tmp / label.replace(' ', '_')}", *sets, *engine])
            began = time.perf_counter()
            report = index_with_config(folder, config, progress=False)
            wall = time.perf_counter() - began
            runs[label] = {
                "seconds": round(wall, 2),
                "files": report.files_indexed,
                "chunks": report.chunks_written,
                "chunks_per_s": round(report.chunks_written / wall, 1),
            }
            rate = report.chunks_written / wall
            print(
                f"{label:<14} {wall:8.2f} s  {report.files_indexed:3d} files  "
                f"{report.chunks_written:6d} chunks  {rate:8.1f} chunks/s"
            )
    finally:
        ray.shutdown()
    print(
        f"{'ray.init':<14} {ray_start:8.2f} s  (once per run when Ray is started for it; not counted above)"
    )
    runs["ray_init"] = {"seconds": round(ray_start, 2)}
    return runs


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A `chroma run` server on a free port, answering its heartbeat."""
    import httpx

    port = free_port()
    command = [str(CHROMA), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).raise_for_status()
            return process, port
        except httpx.HTTPError:
            time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    sys.exit("benchmark: chroma server did not start within 60 s")


def server_store(state: Path, port: int, collection: str) -> ChromaStore:
    """The collection on the benchmark's server, as rag-index writes to it."""
    return ChromaStore(str(state), collection, "cosine", server=Server("127.0.0.1", port))


def write_chunks(state: Path, port: int, collection: str, writer: int, count: int, start: Any) -> None:
    """One writer process: count chunks of about 500 characters, in upserts of UPSERT, once all are ready."""
    store = server_store(state, port, collection)
    store.open(FINGERPRINT, create=False)
    start.wait()  # process start-up and imports are not part of the rate
    rng = np.random.default_rng(writer)
    for start in range(0, count, UPSERT):
        chunks = []
        for i in range(start, min(start + UPSERT, count)):
            text = f"writer {writer} chunk {i}: " + "the quarterly revenue grew as reported " * 12
            meta = {
                "source": f"writer-{writer}/file-{i // 40}.pdf",
                "page": i % 40,
                TEXT_HASH_KEY: text_hash(text),
            }
            chunks.append(Chunk(f"{writer}-{i}", f"{writer}-{i // 40}", text, 0, len(text), meta))
        vectors = rng.standard_normal((len(chunks), DIMENSION)).astype(np.float32)
        store.upsert(chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def write_rates(tmp: Path, chunks: int) -> dict[str, float]:
    """Chunks per second one server takes from 1, 2 and 4 writer processes, chunks in all each time."""
    require(CHROMA)
    process, port = start_server(tmp / "server")
    rates: dict[str, float] = {}
    try:
        context = multiprocessing.get_context("spawn")
        for writers in (1, 2, 4):
            collection = f"write-rate-{writers}"
            server_store(tmp / f"state-{writers}", port, collection).open(FINGERPRINT)
            start = context.Barrier(writers + 1)
            jobs = [
                context.Process(
                    target=write_chunks,
                    args=(tmp / f"state-{writers}", port, collection, w, chunks // writers, start),
                )
                for w in range(writers)
            ]
            for job in jobs:
                job.start()
            start.wait()
            began = time.perf_counter()
            for job in jobs:
                job.join()
                if job.exitcode != 0:
                    sys.exit(f"benchmark: a writer process failed (exit {job.exitcode})")
            seconds = time.perf_counter() - began
            rates[str(writers)] = round(chunks // writers * writers / seconds, 1)
            print(f"chroma server, {writers} writer(s): {rates[str(writers)]:9.1f} chunks/s")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return rates


def projection(per_node: float, server: float) -> list[dict[str, Any]]:
    """Projected chunks/s for N nodes: N times one node's measured rate, capped by the server's."""
    print(
        f"\nprojected, N nodes like this one (measured: {per_node:.1f} chunks/s per node, "
        f"server {server:.1f})"
    )
    rows = []
    for nodes in NODES:
        rate = min(nodes * per_node, server)
        bound = "server" if nodes * per_node > server else "actors"
        print(f"  {nodes:3d} node(s): {rate:9.1f} chunks/s  ({bound}-bound)")
        rows.append({"nodes": nodes, "chunks_per_s": round(rate, 1), "bound": bound})
    return rows


def main() -> None:
    """Run the three index runs and the write rates, print them side by side, end with one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=SEC10Q)
    parser.add_argument("--limit", type=int, help="index only the first N files")
    parser.add_argument("--chunks", type=int, default=20_000, help="chunks written per write-rate run")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    info = machine()
    print(f"machine: {info['cpu']}, load average {info['load_average_1m']}")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        folder = tmp / "docs"
        folder.mkdir()
        files = sorted(p for p in require(args.folder).iterdir() if p.is_file())[: args.limit]
        for path in files:
            shutil.copy(path, folder / path.name)
        runs = index_runs(folder, tmp, args.sets, cores)
        local = runs["local"]["seconds"]
        overheads = {
            label: round(runs[label]["seconds"] / local - 1, 4) for label in ("ray, 1 actor", "ray, 2 actors")
        }
        for label, overhead in overheads.items():
            print(f"{label}: {overhead:+.1%} against local at {cores} cores (target: at most +15 %)")
        rates = write_rates(tmp, args.chunks)
    best = max(rates.values())
    table = projection(runs["ray, 1 actor"]["chunks_per_s"], best)
    emit(
        {
            "benchmark": "scale",
            "machine": info,
            "files": len(files),
            "runs": runs,
            "ray_overhead": overheads,
            "server_chunks_per_s": rates,
            "projected": table,
        }
    )


if __name__ == "__main__":
    main()
