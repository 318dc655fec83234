"""Find the files to index under a root folder, in a deterministic order."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
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
    suffixes = {suffix for name in check_formats(formats) for suffix in FORMATS[name]}
    includes = [glob_to_regex(pattern) for pattern in include]
    excludes = [glob_to_regex(pattern) for pattern in exclude]
    # An exclude like "build/**" or "**/.git/**" rules out a whole directory: skip it instead of walking it.
    pruned_dirs = [glob_to_regex(pattern[:-3]) for pattern in exclude if pattern.endswith("/**")]
    if not root.is_dir():
        raise NotADirectoryError(f"not a directory: {root}")
    real_root = os.path.realpath(root)

    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=_warn_unreadable, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = [d for d in dirnames if not any(rx.fullmatch(prefix + d) for rx in pruned_dirs)]
        for name in filenames:
            rel = prefix + name
            if os.path.splitext(name)[1].lower() not in suffixes:
                continue
            if not any(rx.fullmatch(rel) for rx in includes) or any(rx.fullmatch(rel) for rx in excludes):
                continue
            path = Path(dirpath, name)
            if _is_indexable_file(path, real_root):
                found.append((rel, path))
    found.sort(key=lambda item: item[0])
    for _, path in found:
        yield path


def _is_indexable_file(path: Path, real_root: str) -> bool:
    # isfile follows the link and is False for broken links, loops, FIFOs and sockets (reading a FIFO would
    # block), and for any stat error, which load_file would meet again and report.
    if not os.path.isfile(path):
        return False
    if not os.path.islink(path):
        return True
    # realpath does not raise on symlink loops; a loop never resolves to a regular file anyway.
    target = os.path.realpath(path)
    return os.path.commonpath([real_root, target]) == real_root


def _warn_unreadable(err: OSError) -> None:
    # One unreadable sub-folder should not stop indexing the rest; it is logged rather than silently dropped.
    logger.warning("cannot list %s: %s", err.filename, err.strerror)
