"""The embedder's cache on disk: converted (and int8) OpenVINO models, tokenizers as transformers built
them, and which precision pays on this CPU, so that a later process starts without redoing (or importing)
that work.

Folders and files are written beside their final name, then renamed: another process never reads half of one.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_ENV = "RAG_INDEX_CACHE"


def cache_root() -> Path:
    """$RAG_INDEX_CACHE when set, else $XDG_CACHE_HOME/rag-index (~/.cache by default)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-index"


def save_folder(folder: Path, write: Callable[[Path], None]) -> None:
    """Let write fill a new folder, then rename it to folder. A failure only costs the cache, not the run."""
    discard_abandoned(folder)
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    try:
        partial.mkdir(parents=True, exist_ok=True)
        write(partial)
        partial.rename(folder)
    except OSError as err:  # a read-only home, or a race lost to another process
        log.debug("not caching %s: %s", folder, err)
        shutil.rmtree(partial, ignore_errors=True)


def save_file(path: Path, text: str) -> None:
    """Write text beside path, then rename it to path. A failure only costs the cache, not the run."""
    discard_abandoned(path)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as err:  # a read-only home
        log.debug("not caching %s: %s", path, err)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def discard_abandoned(target: Path) -> None:
    """Remove the half-written copies of target (a folder or a file) that processes killed while saving left.

    Each is named after its writer's pid; one whose process is gone is never renamed into place.
    """
    for partial in target.parent.glob(f"{glob.escape(target.name)}.*.partial"):
        pid = partial.name[len(target.name) + 1 : -len(".partial")]
        if pid.isdigit() and not _alive(int(pid)):
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
            else:
                partial.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
