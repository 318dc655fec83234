"""Plain-text decoding shared by the txt, md and html loaders."""

from __future__ import annotations

import codecs

from rag_index.loaders.base import LoadError

# How far to look for NUL bytes: the same heuristic as git and grep use to call a file binary.
_BINARY_SNIFF_BYTES = 8192

# Longest BOM first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_WIDE_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def normalize_newlines(text: str) -> str:
    """Turn CRLF and lone CR into LF, so character offsets do not depend on the platform."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_text(data: bytes) -> str:
    """Decode a text file (UTF-8, optionally with BOM, or UTF-16/32 with BOM) to LF-normalized str.

    Raises LoadError with reason 'empty file', 'binary file', 'not UTF-8 text' or 'not valid <codec> text'.
    """
    text = _decode(data)
    if not text.strip():
        raise LoadError("empty file")
    return normalize_newlines(text)


def _decode(data: bytes) -> str:
    for bom, codec in _WIDE_BOMS:
        if data.startswith(bom):
            try:
                # The BOM-aware codecs consume the BOM themselves.
                return data.decode(codec)
            except UnicodeDecodeError:
                raise LoadError(f"not valid {codec.upper()} text") from None
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise LoadError("binary file")
    try:
        # utf-8-sig drops a leading UTF-8 BOM and is plain UTF-8 otherwise.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LoadError("not UTF-8 text") from None
