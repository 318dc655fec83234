"""What every loader shares: the error type, the format table and reading a file's bytes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# Format name -> suffixes (lower case). The walker filters on these and load_file dispatches on them.
FORMATS: dict[str, tuple[str, ...]] = {
    "pdf": (".pdf",),
    "txt": (".txt",),
    "md": (".md", ".markdown"),
    "html": (".html", ".htm"),
}

_FORMAT_BY_SUFFIX = {suffix: name for name, suffixes in FORMATS.items() for suffix in suffixes}


class LoadError(Exception):
    """A file that cannot be indexed; ``str(err)`` is a one-line reason, such as 'empty file'."""


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


def read_bytes(path: Path) -> bytes:
    """The whole file, with the OS errors a user can act on turned into LoadError."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LoadError("file not found") from None
    except PermissionError:
        raise LoadError("permission denied") from None
    except IsADirectoryError:
        raise LoadError("is a directory") from None
    except OSError as err:
        # Other OS errors (EIO, ENAMETOOLONG, ...) are still about this one file, not the whole run.
        raise LoadError(f"cannot read file: {err.strerror or err}") from None
