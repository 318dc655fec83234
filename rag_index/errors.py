"""The errors a user can cause, at the bottom of the house so every stage can raise them.

Each carries a one-line message naming the file, key or store and what was expected; the CLI prints it
without a traceback.
"""

from __future__ import annotations


class RagIndexError(Exception):
    """Base of the errors that report a user's mistake or an unusable resource."""


class ConfigError(RagIndexError, ValueError):
    """A config file, override or constructor argument that is invalid; the message names the key."""


class ModelError(RagIndexError):
    """A model folder that cannot be used (missing, incomplete, or not a transformers encoder)."""


class StoreError(RagIndexError):
    """A store that cannot be used as asked: missing, built with another embedder, or not writable."""


class LockError(StoreError):
    """Another process is writing to the same store."""


class FieldError(RagIndexError):
    """A request value that is not valid; ``field`` names it (a server answers 422 with it)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field
