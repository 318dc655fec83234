"""What an index run did, for the CLI's summary line and --json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rag_index.types import SkippedFile


@dataclass
class IndexReport:
    """What an index run did."""

    root: str
    collection: str
    store: str  # the store's folder, or the server's URL
    files_indexed: int = 0  # files whose chunks were (re)written this run
    files_unchanged: int = 0  # files whose hash and settings matched the manifest: not parsed
    files_removed: int = 0  # files gone from the folder whose chunks were deleted
    chunks_written: int = 0
    chunks_embedded: int = 0  # chunks that went through the model (the rest came from the cache)
    chunks_deleted: int = 0
    chunks_truncated: int = 0
    texts_dropped: int = 0  # texts added through the API that --recreate dropped with the collection
    seconds: float = 0.0
    skipped: list[SkippedFile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return asdict(self)
