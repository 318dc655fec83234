"""Where and how the encoder runs: device, dtype, batch budget, and torch's thread count while encoding.

Devices and dtypes are names ("cpu", "cuda:1"; "fp32", "bf16", "fp16") so that the OpenVINO path never
imports torch (about 1 s per process); torch is imported where it runs the model.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path
from typing import Any


def torch_dtype(name: str) -> Any:
    """The torch dtype of a dtype name."""
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def device_type(device: str) -> str:
    """'cuda' of 'cuda:1'."""
    return device.split(":", 1)[0]


def resolve_device(device: str) -> str:
    """'auto' means CUDA when present, else the CPU."""
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    return device


def cuda_available() -> bool:
    """Whether torch sees a CUDA (or ROCm) GPU. A CPU-only build of torch says so in its version file,
    read without importing torch."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return False
    try:
        version = (Path(spec.origin).parent / "version.py").read_text(encoding="utf-8")
    except OSError:
        version = ""
    if version and all(re.search(rf"^{name}\b[^=]*=\s*None\s*$", version, re.M) for name in ("cuda", "hip")):
        return False
    import torch

    return bool(torch.cuda.is_available())


def _cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX-512 BF16 or AMX)."""
    flags = _cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_has_int8_dot() -> bool:
    """Whether this CPU has int8 dot-product instructions (VNNI or AMX), which int8 encoding needs to pay."""
    flags = _cpu_flags()
    return any(flag in flags for flag in ("avx512_vnni", "avx_vnni", "amx_int8"))


def resolve_dtype(dtype: str, device: str, backend: str = "torch") -> str:
    """'auto' means bf16 where the hardware runs it fast (CUDA; CPUs with AVX-512 BF16 or AMX where backend's
    bf16 beats its fp32 when measured: see precision.py), else fp32.

    For 'int8' (CPU only), fp32: the precision of what stays in floating point (attention, layer norms), so
    that int8 vectors are the same on every CPU. With that part in bf16 where bf16 pays, sec-10q MRR@10 fell
    from fp32's 0.7749 to 0.7601 on an AMD EPYC (0.7689 on an Intel Xeon); in fp32, 0.7713 on both.
    """
    if dtype == "int8":
        return "fp32"
    if dtype != "auto":
        return dtype
    if device_type(device) == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if not cpu_has_native_bf16():
        return "fp32"
    from rag_index.embed.precision import bf16_pays

    return "bf16" if bf16_pays(_cpu_flags(), backend) else "fp32"


def resolve_batch_tokens(device: str) -> int:
    """Padded tokens per batch when unset: small batches on the CPU, where OpenVINO runs one per stream
    (2,048 gave 15.0k tokens/s against 14.6k with 8,192), large ones on a GPU, which wants wide work."""
    return 16384 if device_type(device) == "cuda" else 2048


class TorchThreads:
    """While any caller is inside, torch runs its CPU ops on ``count`` threads; the last to leave restores it.

    torch's thread count is process-wide, so an embedder sets it only while it encodes, never for good.
    ONE_TORCH_THREAD serves while a backend's own threads (OpenVINO streams) keep every core busy: torch's
    pooling threads would only spin and preempt them (14.0k against 14.9k tokens/s on 2 cores). Counted, so
    callers from several threads (LangChain's batch) restore the setting once, when all are done.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self._lock = threading.Lock()
        self._inside = 0
        self._saved = 1

    def __enter__(self) -> None:
        import torch

        with self._lock:
            if self._inside == 0:
                self._saved = torch.get_num_threads()
                torch.set_num_threads(self.count)
            self._inside += 1

    def __exit__(self, *exc: object) -> None:
        import torch

        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                torch.set_num_threads(self._saved)


ONE_TORCH_THREAD = TorchThreads(1)
