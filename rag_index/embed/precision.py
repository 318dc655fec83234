"""Whether bf16 pays on this CPU: measured once per machine and backend, then read from the cache.

A CPU flag is not enough. With AMX, OpenVINO's bf16 matmuls ran 4x its fp32 ones here (1,536 against
376 GFLOP/s); the same Intel CPU with AMX switched off (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16, as on CPUs with
AVX-512 BF16 but no AMX, or where the OS does not enable it) ran bf16 at 0.6x fp32 (220 against 376), and
the encoder at 8.7k against 13.8k tokens/s; the AMD EPYC of issue 13 ran bf16 at 1.8x fp32 without AMX.
torch's CPU matmuls behave alike (bf16 2,943 against fp32 386 GFLOP/s with AMX, 233 against 413 without). So
`dtype: auto` times one matmul of an encoder's shape in both precisions, on the backend that will run the
model, and keeps bf16 only where it wins.
bf16 and fp32 vectors agree to a cosine of 0.99997 and share the collection's fingerprint, so machines that
choose differently still serve one index.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from rag_index.embed.cache import cache_root, save_file

log = logging.getLogger(__name__)

ROWS, HIDDEN, FFN = 512, 384, 1536  # a 512-token batch through all-MiniLM-L6-v2's first FFN layer
REPEATS = 20  # timed runs per precision; the best one counts
BF16_MARGIN = 1.15  # bf16 must be this much faster: fp32 is the exact reference
CACHE_FILE = "precision.json"


def bf16_pays(cpu_flags: str, backend: str) -> bool:
    """Whether backend's (openvino, torch) bf16 beats its fp32 on this CPU by BF16_MARGIN (cached)."""
    key = machine_key(cpu_flags, backend)
    path = cache_root() / CACHE_FILE
    cached = _read(path).get(key, {}).get("bf16_speedup")
    if isinstance(cached, float):
        return cached >= BF16_MARGIN
    speedup = measure_bf16_speedup(backend)
    log.info(
        "embedder.dtype auto: %s's bf16 matmuls ran %.2fx fp32 on this CPU, so %s (measured once: %s)",
        backend,
        speedup,
        "bf16" if speedup >= BF16_MARGIN else "fp32",
        path,
    )
    _write(path, key, {"bf16_speedup": round(speedup, 3)})
    return speedup >= BF16_MARGIN


def machine_key(cpu_flags: str, backend: str) -> str:
    """What decides the answer: the CPU (model and flags), the backend and its version, oneDNN's ISA cap."""
    lines = cpu_flags.splitlines()
    model = next((line for line in lines if line.startswith("model name")), platform.machine())
    flags = next((line for line in lines if line.startswith("flags")), "")
    version = importlib.metadata.version(backend)
    facts = [model, flags, backend, version, os.environ.get("ONEDNN_MAX_CPU_ISA", "")]
    return hashlib.sha256("\0".join(facts).encode()).hexdigest()[:16]


def measure_bf16_speedup(backend: str) -> float:
    """fp32's time over bf16's for the same matmul on backend (openvino or torch), best of REPEATS each."""
    return _openvino_speedup() if backend == "openvino" else _torch_speedup()


def _openvino_speedup() -> float:
    """On one OpenVINO infer request over every core (about 0.2 s)."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    weights = ops.constant(rng.standard_normal((HIDDEN, FFN), dtype=np.float32))
    inputs = ops.parameter([ROWS, HIDDEN], ov.Type.f32, name="x")
    model = ov.Model([ops.matmul(inputs, weights, False, False)], [inputs], "ffn")
    data = rng.standard_normal((ROWS, HIDDEN), dtype=np.float32)
    core = ov.Core()
    best = {}
    for precision in ("f32", "bf16"):
        compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": precision})
        request = compiled.create_infer_request()
        best[precision] = _best_time(request.infer, {"x": data})
    return best["f32"] / best["bf16"]


def _torch_speedup() -> float:
    """With torch's CPU threads as they are (a few ms)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(ROWS, HIDDEN, generator=generator)
    weights = torch.randn(HIDDEN, FFN, generator=generator)
    best = {}
    for dtype in (torch.float32, torch.bfloat16):
        x, w = inputs.to(dtype), weights.to(dtype)
        with torch.inference_mode():
            best[dtype] = _best_time(torch.matmul, x, w)
    return best[torch.float32] / best[torch.bfloat16]


def _best_time(run: Callable[..., object], *args: object) -> float:
    """The shortest of REPEATS timed calls of run(*args), after one untimed (kernel set-up)."""
    run(*args)
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        run(*args)
        times.append(time.perf_counter() - started)
    return min(times)


def _read(path: Path) -> dict[str, dict[str, object]]:
    """Each machine's facts; {} when there is no file yet, or a damaged one (then measured again)."""
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(known, dict):
        return {}
    return {key: facts for key, facts in known.items() if isinstance(facts, dict)}


def _write(path: Path, key: str, facts: dict[str, object]) -> None:
    """Add key's facts to the file (see cache.save_file: a reader never sees half of it)."""
    known = _read(path)
    known[key] = facts
    save_file(path, json.dumps(known, indent=1))
