"""Helpers shared by the benchmark scripts: data paths, the machine's description, timing and memory."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / "shared"
SCIFACT = SHARED / "datasets" / "scifact"
SEC10Q = SHARED / "datasets" / "sec-10q" / "docs"


def require(path: Path) -> Path:
    """path, or exit with one line saying the shared data is missing."""
    if not path.exists():
        sys.exit(f"benchmark: {path} is missing (the shared datasets sit beside the repository)")
    return path


def scifact_corpus(limit: int | None = None) -> tuple[list[str], list[str]]:
    """(ids, texts) of the SciFact corpus, title + " " + text, in file order."""
    ids, texts = [], []
    with (require(SCIFACT) / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            ids.append(str(doc["_id"]))
            texts.append(f"{doc['title']} {doc['text']}")
            if limit is not None and len(ids) >= limit:
                break
    return ids, texts


def cpu_model() -> str:
    """The CPU model as lscpu names it, and the core count."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        name = next(
            line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        name = platform.processor() or "unknown"
    return f"{name}, {os.cpu_count()} cores"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import torch

    return {
        "cpu": cpu_model(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        # set to emulate a CPU without AMX on one with it (e.g. AVX512_CORE_BF16): every peer inherits it
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "default"),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (ru_maxrss is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def peak_rss_own_mb() -> float:
    """Peak resident memory of this process's own image, in MB (VmHWM).

    Unlike ru_maxrss, which on Linux carries over the parent's peak into a process started by fork and exec.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return peak_rss_mb()


def median(values: list[float]) -> float:
    """The median, rounded for printing."""
    return round(statistics.median(values), 3)


def emit(result: dict[str, Any]) -> None:
    """Print the one JSON line that ends every benchmark."""
    print(json.dumps(result, sort_keys=True))
