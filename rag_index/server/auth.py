"""Bearer tokens, each allowed everything or bound to namespaces, read from a token file.

The file has one token a line, optionally followed by the namespaces it may use, comma-separated
(``s3cr3t-token-of-agent-7 agent-7,shared``); blank lines and lines starting with # are skipped. Tokens are
compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

from rag_index.errors import RagIndexError
from rag_index.server.namespaces import checked

MIN_TOKEN = 16  # characters: shorter tokens are refused, they can be guessed


@dataclass(frozen=True)
class Grant:
    """What one token may do: every namespace (None), or those named."""

    namespaces: frozenset[str] | None

    def allows(self, namespace: str | None) -> bool:
        """Whether this token may read and write in namespace (None: the whole collection)."""
        return self.namespaces is None or namespace in self.namespaces


def read_tokens(path: Path) -> dict[str, Grant]:
    """The tokens of a token file; RagIndexError naming the line when one is malformed."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise RagIndexError(f"--token-file {path}: cannot be read ({err})") from None
    tokens: dict[str, Grant] = {}
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) > 2 or len(parts[0]) < MIN_TOKEN:
            raise RagIndexError(
                f"{path} line {number}: expected a token of {MIN_TOKEN}+ characters, then optionally "
                "namespaces separated by commas"
            )
        names = None if len(parts) == 1 else frozenset(n for n in parts[1].split(",") if checked(n))
        tokens[parts[0]] = Grant(names)
    if not tokens:
        raise RagIndexError(f"{path}: no token in the file")
    return tokens


def grant_of(tokens: dict[str, Grant], header: str | None) -> Grant | None:
    """The grant of the request's ``Authorization: Bearer TOKEN`` header, or None when it matches none."""
    given = (header or "").removeprefix("Bearer ").strip().encode("utf-8")
    found = None
    for token, grant in tokens.items():  # every token compared, in constant time: timing tells nothing
        if hmac.compare_digest(token.encode("utf-8"), given):
            found = grant
    return found
