"""SciFact nDCG@10 of the fast embedder settings against torch fp32, from the evaluation command.

Run: python benchmarks/quality.py [--variants torch:fp32,torch:bf16,openvino:bf16] [--fp32-ndcg 0.6451]
Each variant is BACKEND:DTYPE and runs `rag-index eval --dataset SCIFACT --search exact --no-cache --json`
with those settings: the whole corpus (5,183 abstracts) and the 300 test claims are embedded again, and
nDCG@10 is computed by the project's trec_eval-faithful metrics. The first variant is the reference, unless
--fp32-ndcg gives an fp32 figure measured before (which saves the slowest pass). Prints a table and a final
JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile

from _common import SCIFACT, emit, machine, require
from end_to_end import RAG_INDEX


def evaluate(backend: str, dtype: str, store: str) -> dict[str, float]:
    """nDCG@10 and encoding seconds of one `rag-index eval` run on SciFact."""
    command = [
        str(RAG_INDEX), "eval", "--dataset", str(require(SCIFACT)), "--search", "exact", "--no-cache",
        "--json", "--set", f"store.path={store}",
        "--set", f"embedder.backend={backend}", "--set", f"embedder.dtype={dtype}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    return {"ndcg@10": round(report["ndcg@10"], 4), "encode_seconds": report["seconds"]}


def main() -> None:
    """Evaluate each variant and print its nDCG@10 against fp32."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="torch:fp32,torch:bf16,openvino:bf16")
    parser.add_argument(
        "--fp32-ndcg",
        type=float,
        help="a torch fp32 nDCG@10 measured before (e.g. 0.6451): compare with it and skip the fp32 pass",
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as store:
        for variant in args.variants.split(","):
            backend, dtype = variant.split(":")
            row = {"variant": variant, **evaluate(backend, dtype, store)}
            rows.append(row)
            print(f"{variant:16s} nDCG@10 {row['ndcg@10']:.4f}  {row['encode_seconds']:.1f} s", flush=True)
    base = args.fp32_ndcg if args.fp32_ndcg is not None else rows[0]["ndcg@10"]
    for row in rows:
        row["ndcg_delta"] = round(row["ndcg@10"] - base, 4)
        print(
            f"{row['variant']:16s} nDCG@10 {row['ndcg@10']:.4f}, {row['ndcg_delta']:+.4f} against {base:.4f}"
        )
    emit(
        {
            "benchmark": "quality",
            "dataset": "scifact test",
            "machine": machine(),
            "fp32_ndcg@10": base,
            "fp32_measured_here": args.fp32_ndcg is None,
            "variants": rows,
        }
    )


if __name__ == "__main__":
    main()
