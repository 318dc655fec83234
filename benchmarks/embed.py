"""Embedding throughput: rag-index (default and int8) against its peers, each in its own process.

Run: python benchmarks/embed.py [--docs 1000] [--rounds 3] [--peer-python /work/venv-peers/bin/python]
Peers: sentence-transformers torch fp32 (the reference vectors), sentence-transformers backend="openvino",
fastembed (ONNX Runtime, over an ONNX export of the same model folder), rag-index defaults, rag-index
dtype int8. Each round runs every peer once, in a fresh process (benchmarks/_embed_peer.py), in an order
rotated from round to round, so that other load on the machine hits all alike; each process warms up on 64
texts, then encodes all of them once, timed. Tokens are counted once, for all, with the model's tokenizer:
each text's tokens with special tokens, at most max_length (256), never padding.
optimum-intel and fastembed pin other versions of transformers, torch and huggingface-hub than rag-index's,
so their peers run from another virtual environment, --peer-python (or $RAG_INDEX_PEER_PYTHON; see
docs/benchmarks/embedding-speed.md); a peer that cannot be imported or run is reported as skipped, with why.
Each round also measures an OpenVINO matmul of the encoder's shape (2048x384 @ 384x1536), in bf16 and fp32,
in its own process: the faster one's FLOP/s over the model's FLOP per token is the ceiling each peer is a
fraction of.
Prints each round, median tokens/s, ratios to every peer, minimum cosine against the fp32 vectors, the
fraction of the ceiling, and a final JSON line; --plot FILE draws the tokens/s and the ceiling as a PNG
(_plots.speed_chart).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _common import emit, machine, median, scifact_corpus
from _plots import save, speed_chart

HERE = Path(__file__).resolve().parent
PEERS = ("st-torch-fp32", "st-openvino", "fastembed", "rag-index", "rag-index-int8")
# Not run unless named in --peers: embedder.graph_pooling off (pooling in torch), to measure it against the
# default (pooling in the OpenVINO graph).
EXTRA_PEERS = ("rag-index-torch-pooling", "rag-index-int8-torch-pooling")
OTHER_VENV = {"st-openvino", "fastembed"}  # optimum-intel, fastembed: their own pins
REFERENCE = "st-torch-fp32"


def model_flop_per_token(config: Any, mean_tokens: float) -> float:
    """Forward FLOP per token of a BERT encoder: the dense layers (q, k, v, output, two FFN) and attention
    (scores and weighted sum over the text's tokens), at 2 FLOP per multiply-add."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return 2.0 * layers * (4 * h * h + 2 * h * i + 2 * h * mean_tokens)


def run(python: str, args: list[str], env: dict[str, str], timeout: float = 3600) -> dict[str, Any]:
    """The last JSON line printed by one process, or {"skipped": why} when it failed."""
    try:
        done = subprocess.run(
            [python, *args], capture_output=True, text=True, cwd=HERE, env=env, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return {"skipped": f"{type(err).__name__}: {err}"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"exit {done.returncode}: {tail[:300]}"}
    return dict(json.loads(lines[-1]))


def main() -> None:
    """Alternate every peer over the same texts for --rounds rounds, and print tokens/s and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="SciFact abstracts (title + text) to encode")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--peer-python",
        default=os.environ.get("RAG_INDEX_PEER_PYTHON", sys.executable),
        help="the Python of the venv with optimum-intel and fastembed (for st-openvino and fastembed)",
    )
    parser.add_argument(
        "--peers", default=",".join(PEERS), help=f"a comma list out of {', '.join(PEERS + EXTRA_PEERS)}"
    )
    parser.add_argument("--plot", type=Path, metavar="FILE", help="also draw the tokens/s as a PNG")
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    unknown = set(peers) - set(PEERS + EXTRA_PEERS)
    if unknown or REFERENCE not in peers:
        sys.exit(
            f"benchmark: --peers must be out of {', '.join(PEERS + EXTRA_PEERS)} and include {REFERENCE}"
        )

    from transformers import AutoConfig, AutoTokenizer

    from rag_index.embed.model_files import max_sequence_length, resolve_model_path

    model = resolve_model_path(None)
    config = AutoConfig.from_pretrained(model, local_files_only=True)
    max_length = max_sequence_length(model, config.max_position_embeddings)
    _, texts = scifact_corpus(args.docs)
    counts = [
        min(len(row), max_length)
        for row in AutoTokenizer.from_pretrained(model)(texts, verbose=False)["input_ids"]
    ]
    tokens = sum(counts)
    flop_per_token = model_flop_per_token(config, tokens / len(texts))
    print(
        f"{len(texts)} texts, {tokens} tokens (at most {max_length} a text); "
        f"{flop_per_token / 1e6:.1f} MFLOP per token; peers: {', '.join(peers)}",
        flush=True,
    )

    work = Path(tempfile.mkdtemp(prefix="rag-index-embed-bench-"))
    texts_file = work / "texts.json"
    texts_file.write_text(json.dumps(texts), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    # absolute: the peers run in benchmarks/; not resolved, which would leave the venv for its base Python
    peer_python = os.path.abspath(args.peer_python)
    python = {p: peer_python if p in OTHER_VENV else sys.executable for p in peers}
    skipped: dict[str, str] = {}
    onnx_dir = work / "onnx"
    if "fastembed" in peers:  # the ONNX model fastembed runs, exported once from the same model folder
        exported = run(
            python["fastembed"],
            ["_embed_peer.py", "export-onnx", str(max_length), str(model), "-", str(onnx_dir)],
            env,
        )
        if "skipped" in exported:
            skipped["fastembed"] = f"ONNX export failed: {exported['skipped']}"

    seconds: dict[str, list[float]] = {p: [] for p in peers}
    vectors: dict[str, np.ndarray] = {}
    ceilings: list[float] = []
    ceiling_precisions: set[str] = set()
    for number in range(args.rounds):
        order = peers[number % len(peers) :] + peers[: number % len(peers)]
        line = [f"round {number + 1}:"]
        for peer in order:
            if peer in skipped:
                continue
            out = work / f"{peer}.npy"
            result = run(
                python[peer],
                ["_embed_peer.py", peer, str(texts_file), str(model), str(out), str(onnx_dir)],
                env,
            )
            if "skipped" in result:
                skipped[peer] = result["skipped"]
                print(f"  {peer}: skipped ({result['skipped']})", flush=True)
                continue
            seconds[peer].append(float(result["seconds"]))
            vectors.setdefault(peer, np.load(out))
            line.append(f"{peer} {tokens / seconds[peer][-1]:7.0f}")
        ceiling = run(sys.executable, ["_matmul_ceiling.py"], env)
        if "gflops" in ceiling:
            ceilings.append(float(ceiling["gflops"]))
            ceiling_precisions.add(ceiling["precision"])
            line.append(f"| matmul bf16 {ceiling['bf16']:.0f}, fp32 {ceiling['f32']:.0f} GFLOP/s")
        print("  ".join(line), "tok/s", flush=True)

    rates = {p: median([tokens / s for s in seconds[p]]) for p in peers if seconds[p]}
    ceiling_gflops = median(ceilings) if ceilings else None
    ceiling_rate = ceiling_gflops * 1e9 / flop_per_token if ceiling_gflops else None
    reference = vectors.get(REFERENCE)
    cosines = {}
    if reference is not None:
        cosines = {p: round(float(np.sum(v * reference, axis=1).min()), 6) for p, v in vectors.items()}
    print(f"\nmedian of {args.rounds} rounds (tokens/s; ratio = this peer's speed over the column's):")
    width = max([len(p) for p in rates] + [14])
    header = " ".join(f"{p:>{width}}" for p in rates)
    print(f"{'peer':{width}} {'tokens/s':>9} {'ceiling':>8} {'min cos':>9}  {header}")
    for peer, rate in rates.items():
        ratios = " ".join(f"{rate / other:{width}.2f}" for other in rates.values())
        fraction = f"{rate / ceiling_rate:8.0%}" if ceiling_rate else f"{'-':>8}"
        print(f"{peer:{width}} {rate:9.0f} {fraction} {cosines.get(peer, float('nan')):9.6f}  {ratios}")
    if ceiling_rate:
        precision = "/".join(sorted(ceiling_precisions))
        print(f"{precision} matmul ceiling: {ceiling_gflops:.0f} GFLOP/s = {ceiling_rate:.0f} tokens/s")
    for peer, why in skipped.items():
        print(f"skipped {peer}: {why}")
    result = {
        "benchmark": "embed",
        "machine": machine(),
        "texts": len(texts),
        "tokens": tokens,
        "rounds": args.rounds,
        "mflop_per_token": round(flop_per_token / 1e6, 2),
        "matmul_gflops": ceiling_gflops,
        "matmul_precision": sorted(ceiling_precisions),
        "ceiling_tokens_per_s": round(ceiling_rate) if ceiling_rate else None,
        "tokens_per_s": rates,
        "seconds": {p: [round(s, 3) for s in v] for p, v in seconds.items() if v},
        "ceiling_fraction": {p: round(r / ceiling_rate, 3) for p, r in rates.items()} if ceiling_rate else {},
        "cosine_min_vs_fp32": cosines,
        "skipped": skipped,
    }
    if args.plot and rates:
        print(f"plot: {save(speed_chart(result), args.plot)}")
    emit(result)


if __name__ == "__main__":
    main()
