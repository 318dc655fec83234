"""What a run has to do: which files under a folder are new or changed, and which are gone."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from rag_index.config import LoaderConfig
from rag_index.index.report import IndexReport
from rag_index.loaders import LoadError, PathFilter, file_digest, scan_files
from rag_index.storage.manifest import Entry
from rag_index.types import SkippedFile


class Pending(NamedTuple):
    """A new or changed file: its path, source (relative path), content hash and size in bytes."""

    path: Path
    source: str
    digest: str
    size: int


class Survey:
    """Compares the files under root with the manifest's entries (hashes only: nothing is parsed)."""

    def __init__(
        self, root: Path, loader: LoaderConfig, entries: dict[str, Entry], settings: str, report: IndexReport
    ) -> None:
        self.root, self.root_key = root, str(root)
        self.loader, self.entries, self.settings, self.report = loader, entries, settings, report

    def is_current(self, source: str, digest: str) -> bool:
        """Whether the manifest has this exact file, finished, with the current settings and root."""
        entry = self.entries.get(source)
        return (
            entry is not None
            and entry.done
            and entry.content_hash == digest
            and entry.settings == self.settings
            and entry.root == self.root_key
        )

    def scan(self) -> list[Path]:
        """The files under root that the loader selects; the ones it rejects go to the report as skipped."""
        loader = self.loader
        scan = scan_files(self.root, loader.include, loader.exclude, loader.formats, loader.follow_symlinks)
        for path, reason in scan.rejected:
            self.report.skipped.append(SkippedFile(path.relative_to(self.root).as_posix(), reason))
        return scan.files

    def pending(self, files: Iterable[Path], only: set[str] | None, present: set[str]) -> Iterator[Pending]:
        """Each new or changed file; adds every source seen to present.

        Unchanged files are counted and unreadable ones reported, not yielded.
        """
        for path in files:
            source = path.relative_to(self.root).as_posix()
            present.add(source)
            if only is not None and source not in only:
                continue
            try:
                digest = file_digest(path)
            except LoadError as err:
                self.report.skipped.append(SkippedFile(source, str(err)))
                continue
            if self.is_current(source, digest):
                entry = self.entries[source]
                if entry.skip_reason:
                    self.report.skipped.append(SkippedFile(source, entry.skip_reason))
                else:
                    self.report.files_unchanged += 1
                continue
            try:
                size = path.stat().st_size
            except OSError:  # gone since it was hashed: parsing it reports why; its size only guides progress
                size = 0
            yield Pending(path, source, digest, size)

    def gone(self, present: set[str]) -> list[str]:
        """Sources of this root that the manifest lists, the loader selects and the folder no longer has."""
        selected = PathFilter(self.loader.include, self.loader.exclude, self.loader.formats)
        return [
            source
            for source, entry in self.entries.items()
            if entry.root == self.root_key and source not in present and selected.selects(source)
        ]
