"""Encoder backends: what runs the transformer's forward pass (torch, or OpenVINO compiled for bf16).

Batches come in as numpy arrays. The OpenVINO path imports torch only to convert the model, once.
"""

from __future__ import annotations

import logging
import queue
import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from rag_index.embed.cache import cache_root, save_folder
from rag_index.embed.graph_pooling import with_pooling
from rag_index.embed.int8 import Calibration, check_nncf, quantize
from rag_index.embed.runtime import device_type
from rag_index.embed.settings import BACKENDS
from rag_index.errors import ConfigError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


class BackendError(ConfigError):
    """A backend that cannot run here (its package is missing, or it cannot use the device).

    A ConfigError, so the CLI reports it in one line: the fix is a setting or an install.
    """


class Backend(Protocol):
    """Runs the encoder: token ids and attention mask in, last hidden states out."""

    parallel: int  # batches it runs at once, each called from its own thread
    pooled: bool  # forward returns pooled (and normalized, if asked) vectors: see graph_pooling.py

    def forward(self, input_ids: np.ndarray, mask: np.ndarray) -> Any:
        """Last hidden states, shape (batch, tokens, hidden), as a torch tensor (torch) or a float32 array
        (openvino); with pooled, float32 vectors of shape (batch, hidden)."""
        ...


class TorchBackend:
    """The transformers model itself, run by torch (any device, any dtype)."""

    parallel = 1  # torch spreads one batch over every core (or the GPU) itself
    pooled = False

    def __init__(self, model: torch.nn.Module, device: str) -> None:
        self.model = model
        self.device = device

    def forward(self, input_ids: np.ndarray, mask: np.ndarray) -> torch.Tensor:
        """Last hidden states from the torch model, on its device."""
        import torch

        with torch.inference_mode():  # here, not in the caller: inference mode is per thread
            ids, attention = (torch.from_numpy(a).to(self.device) for a in (input_ids, mask))
            return self.model(input_ids=ids, attention_mask=attention).last_hidden_state


def openvino_cache_root() -> Path:
    """Where converted (and int8) OpenVINO models are kept: the cache's openvino folder (see cache.py)."""
    return cache_root() / "openvino"


class OpenVINOBackend:
    """The model converted to OpenVINO and compiled for the CPU at the given inference precision.

    OpenVINO fuses the encoder's layers into oneDNN kernels; with bf16 on a CPU with native bf16 it
    runs all-MiniLM-L6-v2 about 2.5 times as fast as sentence-transformers fp32, at a cosine of 0.99997.
    It is compiled for throughput: several streams, each on its own cores with its own infer request, run
    whole batches side by side, which beats one request split over every core (15.0k against 13.1k
    tokens/s on 2 cores). Converting takes seconds, so the converted model is kept in cache_dir (when
    given) and read from there next time. With a calibration, the converted model is quantized to int8
    (see int8.py; a minute for MiniLM) and that model is cached too, beside it, keyed by the calibration
    and NNCF's version; the operations left in floating point run at dtype. The torch model is loaded
    (load_model) only to convert it: a cached conversion starts without it, 3 s sooner.
    """

    PRECISIONS: ClassVar[dict[str, str]] = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}

    def __init__(
        self,
        load_model: Callable[[], torch.nn.Module],
        dtype: str,
        threads: int | None = None,
        cache_dir: Path | None = None,
        calibration: Calibration | None = None,
        pooling: tuple[str, bool, Any] | None = None,
    ) -> None:
        import openvino as ov

        core = ov.Core()
        if cache_dir:  # another OpenVINO version converts (and reads) models its own way
            version = re.sub(r"[^A-Za-z0-9.]+", "_", ov.__version__)  # e.g. 2026.4.1-22982-.../2026/4
            cache_dir = cache_dir.with_name(f"{cache_dir.name}-openvino-{version}")
        converted = self._cached(core, cache_dir) if cache_dir else None
        if converted is None:
            converted = self._convert(ov, load_model())
            if cache_dir:
                self._save(ov, converted, cache_dir)
        if calibration is not None:
            converted = self._quantized(ov, core, converted, calibration, cache_dir)
        self.pooled = pooling is not None
        if pooling is not None:  # appended after caching: the cached models are the bare encoder
            converted = with_pooling(converted, *pooling)
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": self.PRECISIONS[dtype],
            "PERFORMANCE_HINT": "THROUGHPUT",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
            # OpenVINO pins its threads to cores counted from the first in every process: processes given a
            # share of the cores each (Ray actors) would all crowd onto the same ones.
            config["ENABLE_CPU_PINNING"] = False
        compiled = core.compile_model(converted, "CPU", config)
        self.parallel = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        # An infer request runs one batch at a time: a caller takes an idle one, and waits when none is.
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(self.parallel):
            self._idle.put(compiled.create_infer_request())
        # The first inference of a process sets up state in OpenVINO's Python bindings; two encoder threads
        # doing it at once deadlocked once in nine test runs. One tiny batch, alone, sets it up first.
        tiny = np.ones((1, 2), dtype=np.int64)
        self.forward(tiny, tiny)

    @staticmethod
    def _convert(ov: Any, model: torch.nn.Module) -> Any:
        import torch

        class HiddenStates(torch.nn.Module):
            """The model with a plain tensor output, which is what OpenVINO's converter traces."""

            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
                return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        example = {
            "input_ids": torch.ones(2, 16, dtype=torch.long),
            "attention_mask": torch.ones(2, 16, dtype=torch.long),
        }
        # Batch and sequence length stay dynamic, so one compiled model serves every batch shape.
        # The tracer warns about Python branches on shapes in transformers' masking code; those
        # branches do not depend on the batch, and the converted model is checked against torch. It also
        # reads the model's loss function, which makes transformers log a warning about a loss nobody uses.
        transformers_log = logging.getLogger("transformers")
        level = transformers_log.level
        transformers_log.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ov.convert_model(
                    HiddenStates(),
                    example_input=example,
                    input=[("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)],
                )
        finally:
            transformers_log.setLevel(level)

    @classmethod
    def _quantized(
        cls, ov: Any, core: Any, converted: Any, calibration: Calibration, cache_dir: Path | None
    ) -> Any:
        """The int8 model of converted: from the cache, else quantized now (and cached)."""
        int8_dir = None
        if cache_dir:  # the float model's folder name already holds weights and library versions
            nncf_version = re.sub(r"[^A-Za-z0-9.]+", "_", check_nncf())
            int8_dir = cache_dir.with_name(f"{cache_dir.name}-int8-{calibration.key}-nncf-{nncf_version}")
        quantized = cls._cached(core, int8_dir) if int8_dir else None
        if quantized is None:
            log.info("quantizing the encoder to int8 (once: the result is cached in %s)", int8_dir)
            quantized = quantize(converted, calibration)
            if int8_dir:
                cls._save(ov, quantized, int8_dir)
        return quantized

    @staticmethod
    def _cached(core: Any, cache_dir: Path) -> Any:
        xml = cache_dir / "encoder.xml"
        if not xml.is_file():
            return None
        try:
            return core.read_model(str(xml))
        except RuntimeError as err:  # a damaged cache is rebuilt, not trusted
            log.warning("converting again: cannot read the cached OpenVINO model %s (%s)", xml, err)
            shutil.rmtree(cache_dir, ignore_errors=True)
            return None

    @staticmethod
    def _save(ov: Any, converted: Any, cache_dir: Path) -> None:
        save_folder(
            cache_dir,
            lambda folder: ov.save_model(converted, str(folder / "encoder.xml"), compress_to_fp16=False),
        )

    def forward(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden states (float32) from the compiled OpenVINO model, or pooled vectors (see pooled)."""
        inputs = {"input_ids": input_ids, "attention_mask": mask}
        request = self._idle.get()
        try:
            # share_outputs=False copies the result out of the request's buffer, which the next call reuses.
            result = request.infer(inputs, share_outputs=False)
        finally:
            self._idle.put(request)
        return np.asarray(result[0])


def resolve_backend(device: str) -> str:
    """'auto' means openvino on the CPU when the package is installed, else torch."""
    if device_type(device) != "cpu":
        return "torch"
    try:
        import openvino  # noqa: F401
    except ImportError:
        log.info("embedder.backend auto: using torch (pip install openvino for faster CPU encoding)")
        return "torch"
    return "openvino"


def check_backend(name: str, device: str, int8: bool = False) -> str:
    """The backend name means on device ('auto' resolved); BackendError when it cannot run there.

    Checked before the model loads, so a wrong setting fails at once rather than at the first batch.
    int8 (embedder.dtype: int8) needs OpenVINO on the CPU and the nncf package.
    """
    if int8:
        if device_type(device) != "cpu":
            raise BackendError(
                f"embedder.dtype: int8 runs on the CPU (OpenVINO), not {device}; set embedder.device: cpu "
                "or another embedder.dtype (bf16 on a GPU)"
            )
        if name == "torch":
            raise BackendError("embedder.dtype: int8 needs embedder.backend: openvino (or auto), not torch")
        name = "openvino"  # auto, and its install hint below
        check_nncf()
    if name == "auto":
        return resolve_backend(device)
    if name not in BACKENDS:
        raise BackendError(f"embedder.backend: {name!r} is not one of {', '.join(BACKENDS)}")
    if name == "openvino":
        if device_type(device) != "cpu":
            raise BackendError(
                f"embedder.backend: openvino runs on the CPU, not {device}; set embedder.device: cpu "
                "or embedder.backend: torch"
            )
        try:
            import openvino  # noqa: F401
        except ImportError:
            raise BackendError(
                "embedder.backend: openvino needs the openvino package: pip install openvino "
                "(or set embedder.backend: torch)"
            ) from None
    return name


def make_backend(
    name: str,
    load_model: Callable[[], torch.nn.Module],
    dtype: str,
    device: str,
    threads: int | None = None,
    cache_key: str | None = None,
    calibration: Calibration | None = None,
    pooling: tuple[str, bool, Any] | None = None,
) -> Backend:
    """The backend called name, running the model load_model returns at dtype on device (int8 when given
    a calibration). load_model is called only when the backend needs the torch model.

    pooling (a pooling name, normalize, the attention head's arrays or None) asks OpenVINO to pool in its
    graph; the caller checks it can.

    cache_key names the model and the library versions that convert it; backends that convert the model
    (openvino) keep the result under that name, and convert again when it changes.
    """
    if check_backend(name, device, int8=calibration is not None) == "torch":
        return TorchBackend(load_model(), device)
    cache_dir = openvino_cache_root() / cache_key if cache_key else None
    return OpenVINOBackend(load_model, dtype, threads, cache_dir, calibration, pooling)
