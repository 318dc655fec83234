"""The only place that turns YAML (and --set overrides) into validated config objects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rag_index.chunking import STRATEGIES, UNITS
from rag_index.loaders import FORMATS, OCR_MODES, PDF_BACKENDS, LoadOptions
from rag_index.loaders.ocr import check_languages
from rag_index.pooling import JOIN, POOLING, get_pooling, pooling_choices
from rag_index.retriever import SEARCH_TYPES, check_search_options


class ConfigError(Exception):
    """A config file or override that is invalid; the message names the key and what was expected."""


def _one_of(value: object, allowed: list[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoaderConfig(Section):
    """Which files of a folder are read, and how."""

    include: list[str] = Field(default_factory=lambda: ["**/*"])
    exclude: list[str] = Field(default_factory=list)
    formats: list[str] = Field(default_factory=lambda: sorted(FORMATS))
    pdf_backend: str = "pypdfium2"
    # Symlinks leading outside the indexed folder are skipped unless this is on.
    follow_symlinks: bool = False
    # Larger files are listed as skipped, never read: keeps memory bounded on huge inputs.
    max_file_mb: float = Field(default=20.0, gt=0)
    # auto: OCR the PDF pages without a text layer when an engine is installed (else skip them, as off does)
    ocr: str = "auto"
    ocr_dpi: int = Field(default=200, ge=72, le=600)  # 200: as accurate as 300 on the test pages, 28 % faster
    ocr_languages: str = "eng"  # Tesseract language names joined by '+', e.g. deu+eng
    docx_headers_footers: bool = False  # page headers and footers repeat on every page
    pptx_notes: bool = True

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: list[str]) -> list[str]:
        return [_one_of(v, sorted(FORMATS)) for v in value]

    @field_validator("pdf_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        return _one_of(value, list(PDF_BACKENDS))

    @field_validator("ocr")
    @classmethod
    def _known_ocr_mode(cls, value: str) -> str:
        return _one_of(value, list(OCR_MODES))

    @field_validator("ocr_languages")
    @classmethod
    def _language_names(cls, value: str) -> str:
        return check_languages(value)

    def load_options(self) -> LoadOptions:
        """What load_file needs from this section to read one file."""
        return LoadOptions(
            pdf_backend=self.pdf_backend,
            max_bytes=int(self.max_file_mb * 1e6),
            ocr=self.ocr,
            ocr_dpi=self.ocr_dpi,
            ocr_languages=self.ocr_languages,
            docx_headers_footers=self.docx_headers_footers,
            pptx_notes=self.pptx_notes,
        )


class ChunkingConfig(Section):
    """How documents are split; size and overlap count `unit`s (the embedder's tokens by default)."""

    strategy: str = "recursive"
    size: int = Field(default=200, gt=0)
    overlap: int = Field(default=20, ge=0)
    unit: str = "tokens"

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        return _one_of(value, list(STRATEGIES))

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str) -> str:
        return _one_of(value, list(UNITS))

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than size ({self.size})")
        return self


class EmbedderConfig(Section):
    """The encoder and how its token vectors become one vector per text."""

    model: str | None = None  # None: the packaged all-MiniLM-L6-v2; else a local model folder
    pooling: str = "auto"
    normalize: bool = True
    max_length: int | None = Field(default=None, gt=0)  # None: the model's own (256 for MiniLM)
    batch_size: int = Field(default=256, gt=0)  # texts per forward pass at most; see batch_tokens
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # bf16 where native: nDCG@10 within 0.001
    device: str = "auto"
    query_prefix: str = ""
    document_prefix: str = ""
    trust_remote_code: bool = False
    # Padded tokens (rows x longest row) per forward pass: short texts batch wide, long ones narrow.
    # None: 2048 on the CPU (best for OpenVINO's streams here), 16384 on CUDA.
    batch_tokens: int | None = Field(default=None, gt=0)
    # auto: openvino on the CPU when installed (2.5x sentence-transformers fp32 here), else torch
    backend: Literal["auto", "openvino", "torch"] = "auto"
    threads: int | None = Field(default=None, gt=0)  # None: torch's default, one per core

    @field_validator("pooling")
    @classmethod
    def _known_pooling(cls, value: str) -> str:
        if value == "auto" or value in POOLING:
            return value
        if JOIN not in value:
            raise ValueError(f"{value!r} is not one of auto, {pooling_choices()}")
        get_pooling(value)  # a concatenation such as mean+max: raises ValueError saying what is wrong
        return value


class StoreConfig(Section):
    """Where the Chroma collection lives: an embedded database at path, or a Chroma server."""

    mode: Literal["embedded", "http"] = "embedded"
    # embedded: the Chroma data folder; http: the local folder for the manifest and lock only.
    path: str = ".rag-index"
    collection: str = "rag-index"
    distance: Literal["cosine", "ip", "l2"] = "cosine"
    host: str = "localhost"
    port: int = Field(default=8000, gt=0, lt=65536)
    ssl: bool = False
    # The NAME of the environment variable holding the server's token, never the token itself.
    token_env: str | None = None
    retries: int = Field(default=4, ge=0)  # attempts after the first when the server does not answer

    @field_validator("collection")
    @classmethod
    def _chroma_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]", value):
            raise ValueError(
                f"{value!r} is not a valid collection name: 3-512 letters, digits, '.', '_' or '-', "
                "starting and ending with a letter or digit"
            )
        return value


class RetrievalConfig(Section):
    """How queries are answered (see rag_index.retriever.Retriever for the search types)."""

    k: int = Field(default=5, gt=0)
    search_type: str = "similarity"
    fetch_k: int = Field(default=20, gt=0)  # mmr: candidates fetched before k are picked
    lambda_mult: float = Field(default=0.5, ge=0.0, le=1.0)  # mmr: 1 = relevance only, 0 = diversity only
    score_threshold: float | None = None  # similarity_score_threshold: the lowest score kept

    @field_validator("search_type")
    @classmethod
    def _known_search_type(cls, value: str) -> str:
        return _one_of(value, list(SEARCH_TYPES))

    @model_validator(mode="after")
    def _options_fit_search_type(self) -> RetrievalConfig:
        check_search_options(self.k, self.search_type, self.fetch_k, self.lambda_mult, self.score_threshold)
        return self


class Config(Section):
    """The whole configuration; `Config()` equals configs/default.yaml."""

    loader: LoaderConfig = Field(default_factory=LoaderConfig)
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)


def _describe(error: Any) -> str:
    path = ".".join(str(part) for part in error["loc"])
    kind, message, value = error["type"], error["msg"], error.get("input")
    if kind == "extra_forbidden":
        return f"{path}: unknown key"
    if kind == "literal_error":
        allowed = error["ctx"]["expected"].replace(" or ", ", ").replace("'", "")
        return f"{path}: {value!r} is not one of {allowed}"
    message = message.removeprefix("Value error, ")
    return f"{path}: {message}" if kind == "value_error" else f"{path}: {value!r}: {message}"


def _merge(base: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = base
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: {part!r} is not a section")
        node = child
    node[leaf] = value


def parse_override(override: str) -> tuple[str, Any]:
    """'embedder.pooling=cls' -> ('embedder.pooling', 'cls'); values are read as YAML scalars."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected KEY=VALUE, for example embedder.pooling=cls")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML file (or the defaults), apply KEY=VALUE overrides, and validate the result."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"{path}: cannot read config file ({err.strerror})") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML ({err})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of sections, got {type(loaded).__name__}")
        data = loaded or {}
    for override in overrides:
        _merge(data, *parse_override(override))
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        where = f"{path}: " if path is not None else ""
        raise ConfigError("\n".join(where + _describe(e) for e in err.errors())) from None


def config_to_yaml(config: Config) -> str:
    """The config as YAML text, in the layout of configs/default.yaml."""
    return yaml.safe_dump(config.model_dump(), sort_keys=False)
