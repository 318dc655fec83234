"""Time text extraction of every page with each PDF backend, and count pages and failed files.

Run: python benchmarks/pdf_backends.py [folder-of-pdfs]
Default folder: the sec-10q dataset (20 real 10-Q filings) in the `shared` folder beside the repository.
Prints one line per backend, the failures, and a final JSON line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import TypedDict

from rag_index.loaders import PDF_BACKENDS, LoadError, LoadOptions
from rag_index.loaders.pdf import pdf_pages

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "sec-10q" / "docs"


class BackendResult(TypedDict):
    """What one backend did with the folder."""

    seconds: float
    pages: int
    chars: int
    failed: dict[str, str]


def run_backend(backend: str, files: dict[str, bytes]) -> BackendResult:
    """Extract every file with ``backend``; seconds cover parsing and extraction, not disk reads."""
    pages = chars = 0
    failures: dict[str, str] = {}
    start = time.perf_counter()
    for name, data in files.items():
        try:
            extracted = pdf_pages(data, LoadOptions(pdf_backend=backend, ocr="off"))  # text layers only
        except LoadError as err:
            failures[name] = str(err)
            continue
        pages += len(extracted)
        chars += sum(len(page.text) for page in extracted)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 2), "pages": pages, "chars": chars, "failed": failures}


def main() -> None:
    """Benchmark all PDF_BACKENDS on the folder given on the command line (or DEFAULT_DIR)."""
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    files = {path.name: path.read_bytes() for path in sorted(folder.glob("*.pdf"))}
    if not files:
        sys.exit(f"no PDF files in {folder}")
    # pypdf logs a warning for every repaired oddity; they would bury the results.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    results: dict[str, BackendResult] = {}
    for backend in PDF_BACKENDS:
        result = run_backend(backend, files)
        results[backend] = result
        print(
            f"{backend:10s} {result['seconds']:7.2f} s  {result['pages']:5d} pages with text  "
            f"{result['chars']:9d} chars  {len(result['failed'])} of {len(files)} files failed"
        )
        for name, reason in result["failed"].items():
            print(f"    {name}: {reason}")
    print(json.dumps({"folder": str(folder), "files": len(files), "backends": results}))


if __name__ == "__main__":
    main()
