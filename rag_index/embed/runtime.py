"""Where and how the encoder runs: device, dtype, batch budget, and torch's thread count while encoding."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(device: str) -> torch.device:
    """'auto' means CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


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


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """'auto' means bf16 where the hardware runs it natively (CUDA, AVX-512 BF16 CPUs), else fp32.

    For 'int8', the precision of what stays in floating point (as for 'auto'): the quantized matmuls are int8.
    """
    if dtype not in ("auto", "int8"):
        return TORCH_DTYPES[dtype]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def resolve_batch_tokens(device: torch.device) -> int:
    """Padded tokens per batch when unset: small batches on the CPU, where OpenVINO runs one per stream
    (2,048 gave 15.0k tokens/s against 14.6k with 8,192), large ones on a GPU, which wants wide work."""
    return 16384 if device.type == "cuda" else 2048


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
        with self._lock:
            if self._inside == 0:
                self._saved = torch.get_num_threads()
                torch.set_num_threads(self.count)
            self._inside += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                torch.set_num_threads(self._saved)


ONE_TORCH_THREAD = TorchThreads(1)
