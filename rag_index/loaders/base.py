"""What every loader shares: the error type, the format table, the load options and reading a file's bytes."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Format name -> suffixes (lower case). The walker filters on these and load_file dispatches on them.
FORMATS: dict[str, tuple[str, ...]] = {
    "pdf": (".pdf",),
    "txt": (".txt",),
    "md": (".md", ".markdown"),
    "html": (".html", ".htm"),
    "docx": (".docx",),
    "pptx": (".pptx",),
}

_FORMAT_BY_SUFFIX = {suffix: name for name, suffixes in FORMATS.items() for suffix in suffixes}


class LoadError(Exception):
    """A file that cannot be indexed; ``str(err)`` is a one-line reason, such as 'empty file'.

    ``transient``: the file system kept us from reading it (gone, no permission), not its content, so
    the run does not remember the failure and tries the file again next time.
    """

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


@dataclass(frozen=True)
class LoadOptions:
    """How files are read: all that load_file needs besides the path (LoaderConfig.load_options builds it)."""

    pdf_backend: str = "pypdfium2"
    max_bytes: int | None = None  # larger files are refused before they are read
    ocr: str = "auto"  # off | auto (PDF pages without a text layer, when an engine is installed) | force
    ocr_dpi: int = 200  # the resolution pages are rendered at for OCR (see loaders/ocr.py)
    ocr_languages: str = "eng"  # Tesseract languages joined by '+'
    docx_headers_footers: bool = False  # page headers and footers repeat on every page: noise for retrieval
    pptx_notes: bool = True  # speaker notes often say what the slide only shows


def format_of(path: Path) -> str:
    """The format name of ``path`` from its suffix (case-insensitive); LoadError when unsupported."""
    suffix = path.suffix.lower()
    try:
        return _FORMAT_BY_SUFFIX[suffix]
    except KeyError:
        raise LoadError(f"unsupported file type {suffix or '(no suffix)'!r}") from None


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """Validate format names against FORMATS, raising ValueError that lists the valid ones."""
    # A bare string is a Sequence[str] too; "pdf" must not turn into ("p", "d", "f").
    names = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = [name for name in names if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; expected some of {sorted(FORMATS)}")
    return names


_HASH_BLOCK = 1 << 20


_digests: dict[tuple[str, int, int, int, int, int], str] = {}  # see file_digest
_DIGESTS_KEPT = 200_000  # files (about 40 MB); beyond, the memo starts afresh
_SETTLED_SECONDS = 2.0  # a file written more recently than this is hashed every time


def read_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    """The whole file, with the OS errors a user can act on turned into LoadError.

    A file over ``max_bytes`` is refused before it is read, so a huge input never sits in memory.
    """
    try:
        if max_bytes is not None:
            check_size(path.stat().st_size, max_bytes)
        return path.read_bytes()
    except OSError as err:
        raise _os_load_error(err) from None


def file_digest(path: Path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB blocks (memory stays flat for any size).

    Kept in the process under the file's identity, size and times, as git keeps its index: the check for
    an unchanged folder and the run after it (or a server's next index run) read each file once. Every
    write moves a file's ctime, which no program can set back; a file written in the last seconds, which a
    write within the same timestamp tick could change unseen, is read every time.
    """
    try:
        seen = path.stat()
        key = (str(path), seen.st_dev, seen.st_ino, seen.st_size, seen.st_mtime_ns, seen.st_ctime_ns)
        if (kept := _digests.get(key)) is not None:
            return kept
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(_HASH_BLOCK):
                digest.update(block)
    except OSError as err:
        raise _os_load_error(err) from None
    hexdigest = digest.hexdigest()
    if time.time() - max(seen.st_mtime, seen.st_ctime) > _SETTLED_SECONDS:
        if len(_digests) >= _DIGESTS_KEPT:
            _digests.clear()
        _digests[key] = hexdigest
    return hexdigest


def check_size(size: int, max_bytes: int) -> None:
    """LoadError naming both sizes when a file is larger than the configured limit."""
    if size > max_bytes:
        raise LoadError(f"too large: {size / 1e6:.1f} MB > loader.max_file_mb ({max_bytes / 1e6:g} MB)")


def one_line(err: BaseException) -> str:
    """An exception's message on one line (whitespace collapsed), at most 200 characters: a skip reason."""
    message = " ".join(str(err).split()) or type(err).__name__
    return message[:200]


def _os_load_error(err: OSError) -> LoadError:
    if isinstance(err, FileNotFoundError):
        return LoadError("file not found", transient=True)
    if isinstance(err, PermissionError):
        return LoadError("permission denied", transient=True)
    if isinstance(err, IsADirectoryError):
        return LoadError("is a directory", transient=True)
    # Other OS errors (EIO, ENAMETOOLONG, ...) are still about this one file, not the whole run.
    return LoadError(f"cannot read file: {err.strerror or err}", transient=True)
