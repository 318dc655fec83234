"""What the Word and PowerPoint loaders share: opening an Office Open XML package, and cleaning its text."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from typing import IO, TypeVar

from rag_index.loaders.base import LoadError, one_line
from rag_index.loaders.text import normalize_newlines

T = TypeVar("T")

# Office files from before 2007, and password-protected new ones, are OLE compound files, not zips. An
# encrypted OOXML file keeps the real package in an OLE stream named EncryptedPackage (MS-OFFCRYPTO); stream
# names are stored in UTF-16.
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
# Real documents expand a few times when unzipped (XML compresses about 10x, images not at all). A package
# that claims more than this is a zip bomb, or at least not something to hold in memory.
_MAX_UNCOMPRESSED = 512_000_000
_CONTENT_TYPE = re.compile(r"content type is '([^']+)'")
# Control characters other than tab and newline are not text. PowerPoint's soft line break reads as \v.
_CONTROLS = str.maketrans({chr(c): None for c in range(32) if chr(c) not in "\t\n\v"} | {"\v": "\n"})
# A line that Markdown would take for a header or a code fence: the docx loader's Markdown-shaped output
# must not get headers (and header_path metadata) that the document does not have.
_MARKDOWN_SYNTAX = re.compile(r"^( {0,3})(#{1,6}(?:[ \t]|$)|`{3,}|~{3,})")


def open_package(data: bytes, kind: str, opener: Callable[[IO[bytes]], T]) -> T:
    """``opener`` (docx.Document, pptx.Presentation) applied to the bytes, or LoadError with the reason.

    ``kind`` names the format in reasons: 'DOCX' gives 'corrupt DOCX: ...'.
    """
    check_package(data, kind)
    try:
        return opener(io.BytesIO(data))
    except ValueError as err:
        # python-docx and python-pptx check the main part's content type: a .pptx renamed to .docx lands here.
        found = _CONTENT_TYPE.search(str(err))
        if found is None:
            raise LoadError(f"corrupt {kind}: {one_line(err)}") from None
        raise LoadError(f"not a {kind} file (its content type is {found.group(1)})") from None
    except Exception as err:
        # A damaged package fails in many ways (KeyError for a missing part, XMLSyntaxError, BadZipFile for
        # a bad checksum, ...); all of them are this file's problem, to be reported, never to stop the run.
        raise LoadError(f"corrupt {kind}: {type(err).__name__}: {one_line(err)}") from None


def check_package(data: bytes, kind: str) -> None:
    """LoadError when data cannot be an OOXML package: empty, encrypted, old binary, not a zip, a zip bomb."""
    if not data:
        raise LoadError("empty file")
    if data.startswith(_OLE_SIGNATURE):
        if _ENCRYPTED_STREAM in data:
            raise LoadError("encrypted (password required)")
        raise LoadError(
            f"not a {kind} file: an old binary Office file (.doc, .ppt); save it as .{kind.lower()}"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        raise LoadError(f"corrupt {kind}: not a zip archive") from None
    if size > _MAX_UNCOMPRESSED:
        raise LoadError(
            f"too large unzipped: {size / 1e6:.0f} MB > {_MAX_UNCOMPRESSED / 1e6:.0f} MB (zip bomb?)"
        )


def clean_text(text: str) -> str:
    """LF newlines (soft line breaks included), no control characters, no outer whitespace."""
    return normalize_newlines(text).translate(_CONTROLS).strip()


def one_line_text(text: str) -> str:
    """The text with every whitespace run, newlines included, as one space: a header must be one line."""
    return " ".join(text.split())


def escape_markdown(text: str) -> str:
    """Backslash-escape lines that Markdown would read as a header or a code fence ('# 1 priority')."""
    return "\n".join(_MARKDOWN_SYNTAX.sub(r"\1\\\2", line, count=1) for line in text.split("\n"))
