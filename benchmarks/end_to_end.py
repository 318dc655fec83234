"""Index the 20 sec-10q PDFs with rag-index, LangChain's and LlamaIndex's reference pipelines, side by side.

Run: python benchmarks/end_to_end.py [--folder DIR] [--runs 1] [--skip-langchain] [--skip-llamaindex]
                                     [--llamaindex-chunk-size N] [--peer-python PYTHON] [--copies N]
                                     [--set KEY=VALUE ...]
rag-index runs as the `rag-index index --json` command; the LangChain side is PyPDFLoader pages,
RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200), HuggingFaceEmbeddings (same model,
normalize_embeddings=True) and langchain_chroma.Chroma; the LlamaIndex side is SimpleDirectoryReader (its
PDF reader: pypdf pages), SentenceSplitter (its defaults), HuggingFaceEmbedding (same model, normalized) and
ChromaVectorStore. Both run with --peer-python (or $RAG_INDEX_PEER_PYTHON), the venv `make bench-peers` makes:
they pin other versions than rag-index's (pypdf below 7, huggingface-hub below 1.0).
Each pipeline runs in its own process, alternated when --runs > 1; wall time includes imports and model
loading on every side, peak RSS is that process's own (wait4).
--copies N indexes a temporary folder holding N copies of every file (the memory check: peak RSS should
grow little with the folder). Prints each run, the ratio and a final JSON line; --plot FILE draws the wall
times as a PNG (_plots.end_to_end_chart).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import SEC10Q, emit, machine, median, require
from _plots import end_to_end_chart, save

HERE = Path(__file__).resolve()
RAG_INDEX = Path(sys.executable).with_name("rag-index")


def run_measured(command: list[str]) -> tuple[float, float, str]:
    """Run command; (wall seconds, peak RSS in MB of that process, its stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        stdout = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark: {' '.join(command)} failed:\n{stdout[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, stdout


def rag_index_run(folder: Path, overrides: list[str]) -> dict[str, Any]:
    """Index folder into a fresh store with the rag-index command."""
    with tempfile.TemporaryDirectory(prefix="bench-rag-index-") as store:
        command = [str(RAG_INDEX), "index", str(folder), "--json", "--set", f"store.path={store}"]
        for override in overrides:
            command += ["--set", override]
        seconds, rss, stdout = run_measured(command)
    report = json.loads(stdout)
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(rss),
        "files_indexed": report.get("files_indexed"),
        "files_skipped": len(report.get("skipped", [])),
        "chunks": report.get("chunks_written"),
        "chunks_embedded": report.get("chunks_embedded"),  # the rest: identical texts, embedded once
    }


def peer_run(pipeline: str, folder: Path, python: str, *options: str) -> dict[str, Any]:
    """Index folder with a reference pipeline (langchain, llamaindex) in its own process, run by python."""
    from rag_index.embed.model_files import resolve_model_path

    model = str(resolve_model_path(None))
    command = [python, str(HERE), f"--{pipeline}-child", str(folder), model, *options]
    seconds, rss, stdout = run_measured(command)
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(rss), **json.loads(stdout.splitlines()[-1])}


def langchain_child(folder: Path, model: str) -> None:
    """The LangChain reference pipeline; prints {files_indexed, files_lost, chunks, load_s}."""
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    started = time.perf_counter()
    pages, lost = [], 0
    for path in sorted(folder.glob("*.pdf")):
        try:
            loaded = PyPDFLoader(str(path)).load()
        except Exception:  # the reference pipeline loses such a file; it is counted, not hidden
            lost += 1
            continue
        if not any(page.page_content.strip() for page in loaded):
            lost += 1
            continue
        pages.extend(loaded)
    load_seconds = time.perf_counter() - started
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(pages)
    embeddings = HuggingFaceEmbeddings(
        model_name=model,
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    with tempfile.TemporaryDirectory(prefix="bench-langchain-") as store:
        Chroma.from_documents(chunks, embeddings, persist_directory=store, collection_name="bench")
    files = len(list(folder.glob("*.pdf")))
    result = {"files_indexed": files - lost, "files_lost": lost, "chunks": len(chunks)}
    print(json.dumps({**result, "load_s": round(load_seconds, 1)}))


def llamaindex_child(folder: Path, model: str, chunk_size: str = "") -> None:
    """The LlamaIndex reference pipeline; prints {files_indexed, files_lost, chunks, load_s}.

    chunk_size: SentenceSplitter's, in its own (tiktoken) tokens, with a tenth as overlap (rag-index's
    200 and 20); empty: its defaults (1,024 and 200).
    """
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    started = time.perf_counter()
    # raise_on_error=False: as in the LangChain pipeline, a file that fails to load is lost, and counted.
    documents = SimpleDirectoryReader(str(folder), required_exts=[".pdf"], raise_on_error=False).load_data()
    load_seconds = time.perf_counter() - started
    loaded = {d.metadata.get("file_path") for d in documents if d.text.strip()}
    size = int(chunk_size or 0)
    splitter = SentenceSplitter(chunk_size=size, chunk_overlap=size // 10) if size else SentenceSplitter()
    nodes = splitter.get_nodes_from_documents(documents)
    embedding = HuggingFaceEmbedding(model_name=model, device="cpu", normalize=True)
    with tempfile.TemporaryDirectory(prefix="bench-llamaindex-") as store:
        collection = chromadb.PersistentClient(store).create_collection("bench")
        context = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
        VectorStoreIndex(nodes, storage_context=context, embed_model=embedding)
    files = len(list(folder.glob("*.pdf")))
    result = {"files_indexed": len(loaded), "files_lost": files - len(loaded), "chunks": len(nodes)}
    print(json.dumps({**result, "load_s": round(load_seconds, 1)}))


def copied_folder(folder: Path, copies: int, into: Path) -> Path:
    """A folder with copies of every PDF of folder, each copy under its own name."""
    for n in range(copies):
        for path in sorted(folder.glob("*.pdf")):
            shutil.copyfile(path, into / f"{path.stem} copy{n}{path.suffix}")
    return into


def main() -> None:
    """Alternate the two pipelines over the folder and print time, memory, files, chunks and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=SEC10Q)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--skip-langchain", action="store_true")
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--skip-llamaindex", action="store_true")
    parser.add_argument(
        "--llamaindex-chunk-size", type=int, help="SentenceSplitter's chunk_size (default: its own, 1,024)"
    )
    parser.add_argument("--peer-python", default=os.environ.get("RAG_INDEX_PEER_PYTHON", sys.executable))
    parser.add_argument("--plot", type=Path, metavar="FILE", help="also draw the wall times as a PNG")
    children = {"langchain": langchain_child, "llamaindex": llamaindex_child}
    for pipeline in children:
        parser.add_argument(f"--{pipeline}-child", nargs="+", help=argparse.SUPPRESS)  # FOLDER MODEL [OPTION]
    args = parser.parse_args()
    for pipeline, child in children.items():
        if getattr(args, f"{pipeline}_child"):
            folder, model, *options = getattr(args, f"{pipeline}_child")
            child(Path(folder), model, *options)
            return
    folder = require(args.folder)
    overrides = args.overrides or ["embedder.backend=openvino", "embedder.dtype=auto"]
    with tempfile.TemporaryDirectory(prefix="bench-copies-") as tmp:
        if args.copies > 1:
            folder = copied_folder(folder, args.copies, Path(tmp))
        ours: list[dict[str, Any]] = []
        peers: dict[str, list[dict[str, Any]]] = {}
        for run in range(1, args.runs + 1):
            ours.append(rag_index_run(folder, overrides))
            print(f"run {run} rag-index: {ours[-1]}", flush=True)
            for pipeline in [p for p in children if not getattr(args, f"skip_{p}")]:
                options = [str(args.llamaindex_chunk_size or "")] if pipeline == "llamaindex" else []
                peers.setdefault(pipeline, []).append(peer_run(pipeline, folder, args.peer_python, *options))
                print(f"run {run} {pipeline}: {peers[pipeline][-1]}", flush=True)
    result: dict[str, Any] = {
        "benchmark": "end_to_end",
        "machine": machine(),
        "folder": str(args.folder),
        "copies": args.copies,
        "rag_index_settings": overrides,
        "rag_index": ours,
        **peers,
        "rag_index_median_s": median([r["seconds"] for r in ours]),
    }
    for name, theirs in peers.items():
        ratios = [b["seconds"] / a["seconds"] for a, b in zip(ours, theirs, strict=True)]
        result[f"{name}_ratios"] = [round(r, 2) for r in ratios]
        result[f"{name}_median_ratio"] = median(ratios)
        print(f"{name} / rag-index wall time: median {median(ratios):.2f}x")
    if args.plot:
        print(f"plot: {save(end_to_end_chart(result), args.plot)}")
    emit(result)


if __name__ == "__main__":
    main()
