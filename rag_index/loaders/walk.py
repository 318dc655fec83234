"""Find the files to index under a root folder, in a deterministic order."""

from __future__ import annotations

import errno
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag_index.loaders.base import FORMATS, check_formats

logger = logging.getLogger(__name__)


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob over POSIX relative paths: ``*`` and ``?`` stay within one path segment, ``**`` spans
    segments, and ``**/`` also matches nothing, so ``**/*.md`` matches ``top.md``."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith("^"):
                body = "\\" + body  # a caret is literal in a glob class; negation is "!"
            out.append("[" + body + "]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def iter_files(
    root: Path, include: Sequence[str], exclude: Sequence[str], formats: Sequence[str]
) -> Iterator[Path]:
    """Files under ``root`` whose POSIX relative path matches an include glob and no exclude glob, and
    whose suffix (any case) belongs to one of ``formats``; sorted by relative path.

    Directory symlinks are not followed (so loops cannot hang the walk and nothing is read twice); file
    symlinks are yielded only when they resolve to a file inside ``root``.
    """
    yield from scan_files(root, include, exclude, formats).files


@dataclass
class Scan:
    """What a walk found: files to read, and candidates passed over with the reason for each."""

    files: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)


class PathFilter:
    """Whether a POSIX path relative to the root is selected by include/exclude globs and formats."""

    def __init__(self, include: Sequence[str], exclude: Sequence[str], formats: Sequence[str]) -> None:
        self.suffixes = {suffix for name in check_formats(formats) for suffix in FORMATS[name]}
        self.includes = [glob_to_regex(pattern) for pattern in include]
        self.excludes = [glob_to_regex(pattern) for pattern in exclude]
        # An exclude like "build/**" or "**/.git/**" rules out a whole directory: skip it, not walk it.
        self.pruned_dirs = [glob_to_regex(pattern[:-3]) for pattern in exclude if pattern.endswith("/**")]

    def selects(self, rel: str) -> bool:
        """Whether the file at relative path ``rel`` is one to index."""
        if os.path.splitext(rel)[1].lower() not in self.suffixes:
            return False
        return any(rx.fullmatch(rel) for rx in self.includes) and not any(
            rx.fullmatch(rel) for rx in self.excludes
        )


def scan_files(
    root: Path,
    include: Sequence[str],
    exclude: Sequence[str],
    formats: Sequence[str],
    follow_symlinks: bool = False,
) -> Scan:
    """Walk ``root`` like iter_files, and also name the selected paths that cannot be read and why
    (symlink loop, broken symlink, symlink leading outside the root, not a regular file).

    ``follow_symlinks`` lets file symlinks lead outside ``root``; directory symlinks are never followed.
    """
    selected = PathFilter(include, exclude, formats)
    if not root.is_dir():
        raise NotADirectoryError(f"not a directory: {root}")
    real_root = os.path.realpath(root)

    found: list[tuple[str, Path, str | None]] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=_warn_unreadable, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = [
            d for d in dirnames if not any(rx.fullmatch(prefix + d) for rx in selected.pruned_dirs)
        ]
        for name in filenames:
            rel = prefix + name
            if not selected.selects(rel):
                continue
            path = Path(dirpath, name)
            found.append((rel, path, _why_not_indexable(path, real_root, follow_symlinks)))
    found.sort(key=lambda item: item[0])
    scan = Scan()
    for _, path, reason in found:
        if reason is None:
            scan.files.append(path)
        else:
            scan.rejected.append((path, reason))
    return scan


def _why_not_indexable(path: Path, real_root: str, follow_symlinks: bool) -> str | None:
    # isfile follows the link and is False for broken links, loops, FIFOs and sockets (reading a FIFO would
    # block), and for any stat error, which load_file would meet again and report.
    if os.path.islink(path):
        try:
            os.stat(path)
        except OSError as err:
            return "symlink loop" if err.errno == errno.ELOOP else "broken symlink"
        target = os.path.realpath(path)
        if not follow_symlinks and os.path.commonpath([real_root, target]) != real_root:
            return "symlink leads outside the indexed folder (set loader.follow_symlinks to follow it)"
    if not os.path.isfile(path):
        return "not a regular file"
    return None


def _warn_unreadable(err: OSError) -> None:
    # One unreadable sub-folder should not stop indexing the rest; it is logged rather than silently dropped.
    logger.warning("cannot list %s: %s", err.filename, err.strerror)
