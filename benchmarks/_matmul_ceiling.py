"""The CPU's matmul speed at the encoder's shape, as OpenVINO runs it: embed.py's ceiling.

Run by embed.py in its own process: python _matmul_ceiling.py [--seconds 3]
A (2048 x 384) @ (384 x 1536) matmul (a 2,048-token batch through all-MiniLM-L6-v2's first FFN layer),
compiled for THROUGHPUT like rag-index's encoder, kept busy on every stream for --seconds, in bf16 and in
fp32. The faster is the ceiling: bf16 with AMX (3-4x fp32), fp32 where bf16 is slower (AVX-512 BF16 without
AMX on an Intel CPU: 0.6x), as rag-index's `dtype: auto` chooses.
Prints one JSON line: {"gflops": ..., "precision": "bf16" or "f32", "bf16": ..., "f32": ...}.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

ROWS, HIDDEN, FFN = 2048, 384, 1536


def main() -> None:
    """Run the matmul on every infer request for a few seconds per precision and print the GFLOP/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    speeds = {precision: gflops(precision, args.seconds) for precision in ("bf16", "f32")}
    best = max(speeds, key=lambda precision: speeds[precision])
    print(json.dumps({"gflops": speeds[best], "precision": best, **speeds}))


def gflops(precision: str, seconds: float) -> float:
    """GFLOP/s of the matmul compiled at precision, every stream busy for seconds."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    weights = ops.constant(rng.standard_normal((HIDDEN, FFN), dtype=np.float32))
    inputs = ops.parameter([ROWS, HIDDEN], ov.Type.f32, name="x")
    model = ov.Model([ops.matmul(inputs, weights, False, False)], [inputs], "encoder_ffn")
    compiled = ov.Core().compile_model(
        model, "CPU", {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "THROUGHPUT"}
    )
    queue = ov.AsyncInferQueue(compiled)
    data = rng.standard_normal((ROWS, HIDDEN), dtype=np.float32)
    for _ in range(2 * len(queue)):  # warm-up
        queue.start_async({"x": data})
    queue.wait_all()
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(len(queue)):
            queue.start_async({"x": data})
        done += len(queue)
        queue.wait_all()
    elapsed = time.perf_counter() - started
    return round(2.0 * ROWS * HIDDEN * FFN * done / elapsed / 1e9, 1)


if __name__ == "__main__":
    main()
