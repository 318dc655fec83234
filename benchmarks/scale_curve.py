"""The cost curve: one store grown through --sizes chunks, each figure taken at each size in its own process.

    python benchmarks/scale_curve.py [--sizes 10000,100000,300000,1000000] [--work DIR] [--plot FILE]

At each size the folder gains files (50 chunks each: 20,000 files at 1M) and is indexed by the real
crash-safe writer; then, one process each: an unchanged re-run, `verify`, a cold open with similarity and
hybrid query p50/p95 (k=10), a re-run after 1 % of the files changed, and the lexical index's rebuild from
Chroma; disk per chunk is read from the store's folder. Vectors are real ones reused (see _scale_corpus.py:
a pool of SciFact abstracts embedded once, each chunk given a pooled vector plus its own noise): every other
step is the real code. Prints a table, each figure's growth (exponent and nearest model), a projection to
10M and 100M, draws the curves (log-log PNG, --plot), and ends with one JSON line.
Timings on a shared machine are noisy: the load average is printed per size; ratios between sizes hold better.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import emit, machine
from _scale_corpus import CHUNKS_PER_FILE, REPLAY, change_files, pool_texts, real_vectors, write_files
from _scale_fit import affine, best_model, exponent, project, project_affine

from rag_index.config import load_config

WORKER = Path(__file__).with_name("_scale_worker.py")
PROJECT_TO = (10_000_000, 100_000_000)
# (key, label, unit, target at 1M on 2 cores / 24 GB, or None); the section 2
FIGURES: list[tuple[str, str, str, float | None]] = [
    ("write_chunks_per_s", "write", "chunks/s", None),  # target: within 20 % of the first size's
    ("index_rss_mb", "index RSS", "MB", 4000),
    ("query_rss_mb", "query RSS", "MB", 3000),
    ("similarity_p50_ms", "sim p50", "ms", 25),
    ("similarity_p95_ms", "sim p95", "ms", None),  # target: <= 2x p50
    ("hybrid_p50_ms", "hyb p50", "ms", 50),
    ("hybrid_p95_ms", "hyb p95", "ms", None),
    ("unchanged_s", "unchanged", "s", 10),
    ("changed_1pct_s", "1% changed", "s", None),
    ("verify_s", "verify", "s", 60),
    ("cold_open_s", "cold open", "s", 5),
    ("lexical_rebuild_s", "lex rebuild", "s", None),
    ("chroma_bytes_per_chunk", "chroma B/chunk", "B", None),
    ("lexical_bytes_per_chunk", "lexical B/chunk", "B", None),
    ("manifest_bytes_per_chunk", "manifest B/chunk", "B", None),
]


def measure(args: list[str]) -> dict[str, Any]:
    """One worker process; its JSON line, with the process's wall seconds."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, str(WORKER), *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"benchmark: {' '.join(args[:1])} failed:\n{done.stderr[-3000:]}")
    return {
        **json.loads(done.stdout.strip().splitlines()[-1]),
        "wall_s": round(time.perf_counter() - began, 2),
    }


def disk(store: Path, collection: str) -> dict[str, int]:
    """Bytes of the Chroma data, the lexical index and the manifest in the store's folder."""
    parts = {"chroma": 0, "lexical": 0, "manifest": 0}
    for path in store.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(store).as_posix()
        if relative.startswith(f"{collection}.lexical"):
            parts["lexical"] += path.stat().st_size
        elif relative.startswith(f"{collection}.manifest"):
            parts["manifest"] += path.stat().st_size
        elif not relative.endswith(".lock"):
            parts["chroma"] += path.stat().st_size
    return parts


def one_size(size: int, files_before: int, work: Path, vectors: Path, texts: list[str], round_: int) -> dict:
    """Grow the store to size chunks and take every figure there."""
    folder, store = work / "files", work / "store"
    files = max(1, size // CHUNKS_PER_FILE)
    write_files(folder, files_before, files, texts)
    common = ["--store", str(store), "--folder", str(folder), "--vectors", str(vectors)]
    load = round(os.getloadavg()[0], 2)
    grow = measure(["index", *common])
    unchanged = measure(["index", *common])
    checked = measure(["verify", *common])
    queried = measure(["query", *common])
    changed_files = change_files(folder, files, 0.01, round_, texts)
    changed = measure(["index", *common])
    rebuilt = measure(["rebuild", *common])
    chunks = checked["chunks"]
    sizes = disk(store, load_config(None).store.collection)
    return {
        "chunks": chunks,
        "files": files,
        "load_average_1m": load,
        "chunks_written": grow["chunks_written"],
        "write_chunks_per_s": round(grow["chunks_written"] / grow["run_s"], 1),
        "index_rss_mb": grow["peak_rss_mb"],
        "query_rss_mb": queried["peak_rss_mb"],
        "similarity_p50_ms": queried["similarity"]["p50_ms"],
        "similarity_p95_ms": queried["similarity"]["p95_ms"],
        "hybrid_p50_ms": queried["hybrid"]["p50_ms"],
        "hybrid_p95_ms": queried["hybrid"]["p95_ms"],
        **{
            f"{kind}_cpu_{p}_ms": queried[kind][f"cpu_{p}_ms"]
            for kind in ("similarity", "hybrid")
            for p in ("p50", "p95")
        },
        "unchanged_s": unchanged["seconds"],
        "unchanged_wall_s": unchanged["wall_s"],
        "unchanged_embedded": unchanged["chunks_embedded"],
        "changed_files": changed_files,
        "changed_1pct_s": changed["seconds"],
        "changed_1pct_run_s": changed["run_s"],  # without building the embedder (the tokenizer, torch)
        "changed_chunks_written": changed["chunks_written"],
        "unchanged_files": unchanged["files_unchanged"],
        "verify_s": checked["seconds"],
        "verify_ok": checked["ok"],
        "cold_open_s": queried["cold_open_s"],
        "lexical_rebuild_s": rebuilt["seconds"],
        **{f"{part}_bytes_per_chunk": round(b / max(chunks, 1)) for part, b in sizes.items()},
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    """One line per size, one column per figure."""
    header = f"{'chunks':>9} {'files':>6} " + " ".join(f"{label:>10.10}" for _, label, _, _ in FIGURES)
    print(header)
    for row in rows:
        cells = " ".join(f"{row[key]:>10g}" for key, _, _, _ in FIGURES)
        print(f"{row['chunks']:>9} {row['files']:>6} {cells}")


def growth(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each figure's exponent, nearest model, cost per chunk and both projections (two sizes or more)."""
    if len(rows) < 2:
        return {}
    sizes = [float(row["chunks"]) for row in rows]
    fits = {}
    print("projections: power law from the largest size / fixed part + cost per chunk (see _scale_fit.py)")
    for key, label, unit, _ in FIGURES:
        values = [float(row[key]) for row in rows]
        fits[key] = {
            "exponent": round(exponent(sizes, values), 3),
            "model": best_model(sizes, values),
            "per_million_chunks": round(affine(sizes, values)[1] * 1e6, 3),
            **{f"projected_{n}": round(project(sizes, values, n), 2) for n in PROJECT_TO},
            # a rate or a size per chunk has no fixed part: carried on flat from the largest size
            **{
                f"projected_affine_{n}": round(
                    values[-1] if unit in ("chunks/s", "B") else project_affine(sizes, values, n), 2
                )
                for n in PROJECT_TO
            },
        }
        fit = fits[key]
        projected = "  ".join(
            f"{n:,}: {fit[f'projected_{n}']:g} / {fit[f'projected_affine_{n}']:g} {unit}" for n in PROJECT_TO
        )
        print(f"{label:>16}: n^{fit['exponent']:<6} nearest {fit['model']:<9} {projected}")
    return fits


def targets(rows: list[dict[str, Any]]) -> dict[str, bool]:
    """Whether the largest size meets each target of the issue (on whatever size that is)."""
    first, last = rows[0], rows[-1]
    met = {key: last[key] <= limit for key, _, _, limit in FIGURES if limit is not None}
    met["write_chunks_per_s"] = last["write_chunks_per_s"] >= 0.8 * first["write_chunks_per_s"]
    met["similarity_p95_ms"] = last["similarity_p95_ms"] <= 2 * last["similarity_p50_ms"]
    met["hybrid_p95_ms"] = last["hybrid_p95_ms"] <= 2 * last["hybrid_p50_ms"]
    for key, ok in met.items():
        print(f"target {key:<22} at {last['chunks']:>9,} chunks: {'met' if ok else 'MISSED'}")
    return met


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Each figure against chunks, log-log, in panels by unit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = {"s": "seconds", "ms": "query ms", "MB": "peak RSS MB", "B": "bytes per chunk"}
    panels["chunks/s"] = "write chunks/s"
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    chunks = [row["chunks"] for row in rows]
    for axis, (unit, title) in zip(axes, panels.items(), strict=True):
        for key, label, figure_unit, _ in FIGURES:
            if figure_unit == unit:
                axis.plot(chunks, [max(row[key], 1e-3) for row in rows], marker="o", label=label)
        axis.set(xscale="log", yscale="log", title=title, xlabel="chunks")
        if unit == "chunks/s":  # a flat rate drawn as flat: noise alone would fill a tight axis
            rates = [row["write_chunks_per_s"] for row in rows]
            axis.set_ylim(min(rates) / 3, max(rates) * 3)
        axis.legend(fontsize=7)
        axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    print(f"plot: {path}")


def main() -> None:
    """Grow the store through the sizes, print the table and fits, draw the plot, end with a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,300000,1000000")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-index-scale-curve"))
    parser.add_argument("--plot", type=Path, help="the PNG (default: WORK/scale_curve.png)")
    parser.add_argument("--pool", type=int, default=2000, help="real abstracts embedded once")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the store and files in WORK")
    parser.add_argument("--report", type=Path, help="measure nothing: report the JSON line of an earlier run")
    args = parser.parse_args()
    if args.report is not None:
        earlier = json.loads(args.report.read_text(encoding="utf-8").strip().splitlines()[-1])
        report(earlier["sizes"], earlier["machine"], args.plot or args.work / "scale_curve.png")
        return
    sizes = sorted(int(size) for size in args.sizes.split(","))
    info = machine()
    print(f"machine: {info['cpu']}, load average {info['load_average_1m']} (shared: timings are noisy)")
    print(f"vectors: {REPLAY} ({args.pool} SciFact abstracts embedded once, real SciFact query vectors)")
    for leftover in ("files", "store", "lexical-rebuild"):
        shutil.rmtree(args.work / leftover, ignore_errors=True)
    vectors = real_vectors(args.work / "cache", load_config(None), args.pool, args.queries)
    texts = pool_texts(args.pool)
    rows: list[dict[str, Any]] = []
    files = 0
    try:
        for round_, size in enumerate(sizes):
            began = time.perf_counter()
            rows.append(one_size(size, files, args.work, vectors, texts, round_))
            files = rows[-1]["files"]
            print(
                f"-- {rows[-1]['chunks']:,} chunks measured in {time.perf_counter() - began:.0f} s",
                flush=True,
            )
            print_table(rows[-1:])
            # what a run cut short leaves: `--report WORK/partial.json` reports the sizes measured so far
            partial = json.dumps({"sizes": rows, "machine": info})
            (args.work / "partial.json").write_text(partial + "\n", encoding="utf-8")
    finally:
        if not args.keep:
            for leftover in ("files", "store"):
                shutil.rmtree(args.work / leftover, ignore_errors=True)
    report(rows, info, args.plot or args.work / "scale_curve.png")


def report(rows: list[dict[str, Any]], info: dict[str, Any], plot_file: Path) -> None:
    """The table, the fits, the targets, the plot and the JSON line."""
    print()
    print_table(rows)
    fits = growth(rows)
    met = targets(rows)
    plot(rows, plot_file)
    emit(
        {
            "benchmark": "scale_curve",
            "machine": info,
            "vectors": REPLAY,
            "chunks_per_file": CHUNKS_PER_FILE,
            "sizes": rows,
            "fits": fits,
            "targets_met_at_largest": met,
        }
    )


if __name__ == "__main__":
    main()
