"""Index the 20 sec-10q PDFs with rag-index and with the LangChain reference pipeline, side by side.

Run: python benchmarks/end_to_end.py [--folder DIR] [--runs 1] [--skip-langchain] [--copies N]
                                     [--set KEY=VALUE ...]
rag-index runs as the `rag-index index --json` command; the LangChain side is PyPDFLoader pages,
RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200), HuggingFaceEmbeddings (same model,
normalize_embeddings=True) and langchain_chroma.Chroma (needs langchain-community, langchain-huggingface,
langchain-text-splitters and langchain-chroma). Each side runs in its own process, alternated when --runs > 1;
wall time includes imports and model loading on both sides, peak RSS is that process's own (wait4).
--copies N indexes a temporary folder holding N copies of every file (the memory check: peak RSS should
grow little with the folder). Prints each run, the ratio and a final JSON line.
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


def langchain_run(folder: Path) -> dict[str, Any]:
    """Index folder with the LangChain reference pipeline in its own process."""
    seconds, rss, stdout = run_measured([sys.executable, str(HERE), "--langchain-child", str(folder)])
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(rss), **json.loads(stdout.splitlines()[-1])}


def langchain_child(folder: Path) -> None:
    """The LangChain reference pipeline; prints {files_indexed, files_lost, chunks, load_s}."""
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag_index.embed.model_files import resolve_model_path

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
        model_name=str(resolve_model_path(None)),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    with tempfile.TemporaryDirectory(prefix="bench-langchain-") as store:
        Chroma.from_documents(chunks, embeddings, persist_directory=store, collection_name="bench")
    files = len(list(folder.glob("*.pdf")))
    result = {"files_indexed": files - lost, "files_lost": lost, "chunks": len(chunks)}
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
    parser.add_argument("--langchain-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.langchain_child:
        langchain_child(args.langchain_child)
        return
    folder = require(args.folder)
    overrides = args.overrides or ["embedder.backend=openvino", "embedder.dtype=auto"]
    with tempfile.TemporaryDirectory(prefix="bench-copies-") as tmp:
        if args.copies > 1:
            folder = copied_folder(folder, args.copies, Path(tmp))
        ours, theirs = [], []
        for run in range(1, args.runs + 1):
            ours.append(rag_index_run(folder, overrides))
            print(f"run {run} rag-index: {ours[-1]}", flush=True)
            if not args.skip_langchain:
                theirs.append(langchain_run(folder))
                print(f"run {run} langchain: {theirs[-1]}", flush=True)
    result: dict[str, Any] = {
        "benchmark": "end_to_end",
        "machine": machine(),
        "folder": str(args.folder),
        "copies": args.copies,
        "rag_index_settings": overrides,
        "rag_index": ours,
        "langchain": theirs,
        "rag_index_median_s": median([r["seconds"] for r in ours]),
    }
    if theirs:
        ratios = [b["seconds"] / a["seconds"] for a, b in zip(ours, theirs, strict=True)]
        result["ratios"] = [round(r, 2) for r in ratios]
        result["median_ratio"] = median(ratios)
        print(f"LangChain / rag-index wall time: median {result['median_ratio']:.2f}x")
    emit(result)


if __name__ == "__main__":
    main()
