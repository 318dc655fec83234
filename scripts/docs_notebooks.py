"""Put the notebooks into the documentation site as pages, executed (mkdocs-gen-files runs this).

The repository keeps the notebooks without outputs; the site shows them run. Each one is executed with
nbclient in notebooks/ (so its relative paths hold), its parameters cell extended by the values below, which
size the runs for a build of about a minute and a half of CPU: SciFact and sec-10q are cut down, and the
page's parameters cell says so. A notebook whose data is absent (../shared is not in every checkout) is shown
without outputs under a line that says why; one that fails fails the build. Executed notebooks are cached
in .cache/docs-notebooks/ under a hash of the notebook, this script, the rag_index sources and the data
present, so `mkdocs serve` re-runs only what changed. `python scripts/docs_notebooks.py` executes them all
and prints each one's time.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()  # part of each cache key: the parameters and how they run live here
ROOT = SCRIPT.parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / ".cache" / "docs-notebooks"
SHARED = "../../shared"  # as the notebooks' own parameters name it, from notebooks/
SCIFACT = f"{SHARED}/datasets/scifact"
SEC_10Q = f"{SHARED}/datasets/sec-10q"
# The sec-10q the build runs on: the first page of each of the 20 filings (see first_pages).
SEC_10Q_PAGES = 1
SEC_10Q_SMALL = f"../.cache/docs-notebooks/sec-10q-first-pages-{SEC_10Q_PAGES}"
# The first 20 judged queries of each set, their documents and 60 others (all 20 filings of sec-10q).
SUBSET = {"QUERIES": 20, "DISTRACTORS": 60}
EVAL_CACHE = "../.cache/docs-notebooks/eval-cache"  # shared: 02, 03 and 04 encode some units alike


@dataclass(frozen=True)
class Run:
    """How the site's build runs one notebook: its parameters, the data it needs, and what the page says."""

    parameters: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # paths from notebooks/ that must exist; else the page says which is absent
    note: str = ""  # shown above the parameters the build set


SUBSET_NOTE = (
    "run on a subset so the site builds in minutes; the figures of the full runs are on the benchmark pages"
)
RUNS: dict[str, Run] = {
    "01_quickstart.ipynb": Run({"STORE": "../.cache/docs-notebooks/stores/quickstart"}),
    "02_pooling_comparison.ipynb": Run({**SUBSET, "CACHE_DIR": EVAL_CACHE}, (SCIFACT,), SUBSET_NOTE),
    "03_chunking_comparison.ipynb": Run(
        {
            "DATASET": SEC_10Q_SMALL,
            **SUBSET,
            # recursive 200/20 is the default chunking, which 04 then reads from the cache
            "SIZES": [128, 200],
            "OVERLAPS": [20],
            "CACHE_DIR": EVAL_CACHE,
        },
        (SEC_10Q,),
        f"{SUBSET_NOTE}; sec-10q here is the first page of each filing (its cover)",
    ),
    "04_hybrid_search.ipynb": Run(
        {
            **SUBSET,
            "SEC_10Q": SEC_10Q_SMALL,
            "ALPHAS": [0.0, 0.2, 0.38, 0.6, 0.8, 1.0],
            "STORE": "../.cache/docs-notebooks",  # its eval cache is STORE/eval-cache: EVAL_CACHE
        },
        (SCIFACT, SEC_10Q),
        f"{SUBSET_NOTE}; sec-10q here is the first page of each filing (its cover)",
    ),
    "05_agent_memory.ipynb": Run({"STORE": "../.cache/docs-notebooks/stores/agent-memory"}),
    "06_learned_pooling.ipynb": Run(
        {
            **SUBSET,
            "EPOCHS": 3,
            "COMPARE": ["cls"],
            "STORE": "../.cache/docs-notebooks/stores/learned",
            "OUT": "../.cache/docs-notebooks/stores/learned/head.safetensors",
        },
        (SCIFACT,),
        f"{SUBSET_NOTE} (the train split's first 20 claims)",
    ),
}


def first_pages(source: Path, target: Path, pages: int) -> Path:
    """A copy of a document-QA folder whose PDFs keep their first `pages` pages; made once."""
    import pypdfium2

    if (target / "qna_data.csv").is_file():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "docs").mkdir(parents=True)
    for pdf in sorted((source / "docs").glob("*.pdf")):
        whole = pypdfium2.PdfDocument(pdf)
        small = pypdfium2.PdfDocument.new()
        small.import_pages(whole, pages=list(range(min(pages, len(whole)))))
        small.save(partial / "docs" / pdf.name)
    with (source / "qna_data.csv").open(encoding="utf-8-sig", newline="") as rows:
        records = list(csv.DictReader(rows))
    with (partial / "qna_data.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # whole or not at all: an interrupted build makes it again
    return target


def _sources_hash() -> str:
    """A hash of the library's code: an executed notebook is stale once rag_index changes."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "rag_index").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _parameters_source(original: str, run: Run) -> str:
    """The parameters cell as the page shows it: the notebook's own values, then the ones the build set."""
    lines = [f"{key} = {value!r}" for key, value in run.parameters.items()]
    heading = "This site's build ran it with (scripts/docs_notebooks.py)" + (
        f": {run.note}" if run.note else ""
    )
    comment = textwrap.wrap(heading, 100, initial_indent="# ", subsequent_indent="# ")
    return "\n".join([original.rstrip(), "", *comment, *lines])


def execute(name: str, sources: str) -> bytes:
    """The notebook as its page shows it: executed with the build's parameters, or not, with the reason."""
    import nbclient
    import nbformat

    run = RUNS.get(name, Run())
    path = NOTEBOOKS / name
    missing = [need for need in run.needs if not (NOTEBOOKS / need).exists()]
    key = hashlib.sha256(
        b"\0".join([path.read_bytes(), SCRIPT.read_bytes(), sources.encode(), repr(missing).encode()])
    ).hexdigest()[:16]
    cached = BUILD / f"{path.stem}-{key}.ipynb"
    if cached.is_file():
        return cached.read_bytes()

    book = nbformat.read(path, as_version=4)
    if missing:
        reason = nbformat.v4.new_markdown_cell(
            f"> **Not executed when this site was built:** `{missing[0]}` is absent (the shared datasets "
            "are not part of the repository). The code is shown without outputs; run the notebook where "
            "the data is."
        )
        book.cells.insert(1, reason)
    else:
        if SEC_10Q_SMALL in run.parameters.values():
            first_pages(NOTEBOOKS / SEC_10Q, NOTEBOOKS / SEC_10Q_SMALL, SEC_10Q_PAGES)
        cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
        cell.source = _parameters_source(cell.source, run)
        env = {
            **os.environ,
            # The inline backend draws with Agg into PNG outputs: no display needed.
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            # tqdm.auto warns that ipywidgets is absent; the pages would show that warning, not the run's.
            "PYTHONWARNINGS": "ignore:IProgress not found",
        }
        client = nbclient.NotebookClient(
            book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        )
        client.execute(env=env)  # a cell that raises fails the build: a broken notebook is not published
    BUILD.mkdir(parents=True, exist_ok=True)
    for stale in BUILD.glob(f"{path.stem}-*.ipynb"):
        stale.unlink()
    cached.write_text(nbformat.writes(book), encoding="utf-8")
    return cached.read_bytes()


def main() -> None:
    """Execute every notebook as the build does and print how long each took."""
    sources = _sources_hash()
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        start = time.perf_counter()
        execute(path.name, sources)
        print(f"{path.name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)


if __name__ == "<run_path>":  # mkdocs-gen-files runs this file with runpy.run_path
    import mkdocs_gen_files

    _sources = _sources_hash()
    for _notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        _page = f"notebooks/{_notebook.name}"
        with mkdocs_gen_files.open(_page, "wb") as _out:
            _out.write(execute(_notebook.name, _sources))
        mkdocs_gen_files.set_edit_path(_page, f"notebooks/{_notebook.name}")
elif __name__ == "__main__":
    main()
