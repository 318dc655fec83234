"""The embedder's settings: the `embedder:` config section and the defaults of PoolingEmbedder(...)."""

from __future__ import annotations

from pydantic import Field, field_validator

from rag_index.embed.pooling import JOIN, POOLING, get_pooling, pooling_choices
from rag_index.settings import Section, one_of

BACKENDS = ("openvino", "torch")  # what runs the forward pass; "auto" picks one per device
# "auto": bf16 where the hardware runs it natively, else fp32. int8: OpenVINO on the CPU, quantized by NNCF.
DTYPES = ("bf16", "fp16", "fp32", "int8")


class EmbedderConfig(Section):
    """The encoder and how its token vectors become one vector per text."""

    model: str | None = None  # None: the packaged all-MiniLM-L6-v2; else a local model folder
    pooling: str = "auto"
    normalize: bool = True
    max_length: int | None = Field(default=None, gt=0)  # None: the model's own (256 for MiniLM)
    batch_size: int = Field(default=256, gt=0)  # texts per forward pass at most; see batch_tokens
    dtype: str = "auto"  # bf16 where native: nDCG@10 within 0.001; int8: see embed/int8.py
    device: str = "auto"
    query_prefix: str = ""
    document_prefix: str = ""
    trust_remote_code: bool = False
    # Padded tokens (rows x longest row) per forward pass: short texts batch wide, long ones narrow.
    # None: 2048 on the CPU (best for OpenVINO's streams here), 16384 on CUDA.
    batch_tokens: int | None = Field(default=None, gt=0)
    # auto: openvino on the CPU when installed (2.5x sentence-transformers fp32 here), else torch
    backend: str = "auto"
    threads: int | None = Field(default=None, gt=0)  # None: torch's default, one per core
    # OpenVINO with mean or cls pooling: pooling and normalization inside the compiled graph, so that the
    # CPU path needs no torch (a process starts 2 s sooner); as fast, same vectors (fingerprint unchanged).
    # Elsewhere torch pools whatever this says.
    graph_pooling: bool = True

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        return one_of(value, ["auto", *DTYPES])

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        return one_of(value, ["auto", *BACKENDS])

    @field_validator("pooling")
    @classmethod
    def _known_pooling(cls, value: str) -> str:
        if value == "auto" or value in POOLING:
            return value
        if JOIN not in value:
            raise ValueError(f"{value!r} is not one of auto, {pooling_choices()}")
        get_pooling(value)  # a concatenation such as mean+max: raises ValueError saying what is wrong
        return value
