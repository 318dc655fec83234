"""Files -> Documents: find files under a root (walk.py) and load each one by its format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag_index.loaders.base import FORMATS, LoadError, LoadOptions, file_digest, format_of, read_bytes
from rag_index.loaders.docx import docx_text
from rag_index.loaders.html import html_to_text
from rag_index.loaders.ocr import OCR_MODES, check_ocr_mode, ocr_engine_version
from rag_index.loaders.pdf import PDF_BACKENDS, PdfPage, check_pdf_backend, pdf_pages
from rag_index.loaders.pptx import pptx_slides
from rag_index.loaders.text import decode_text
from rag_index.loaders.walk import PathFilter, Scan, iter_files, scan_files
from rag_index.types import Document, content_hash, stable_id

__all__ = [
    "FORMATS",
    "OCR_MODES",
    "PDF_BACKENDS",
    "LoadError",
    "LoadOptions",
    "PathFilter",
    "Scan",
    "file_digest",
    "iter_files",
    "load_file",
    "ocr_engine_version",
    "scan_files",
]


def load_file(path: Path, root: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load one file into Documents: one per PDF page or slide with text, one for any other format.

    Raises LoadError with a one-line reason when the file cannot be indexed (including a file larger than
    ``options.max_bytes``), and ValueError for an unknown PDF backend or OCR mode (a configuration
    mistake, not a problem with the file).
    """
    options = options or LoadOptions()
    check_pdf_backend(options.pdf_backend)
    check_ocr_mode(options.ocr)
    fmt = format_of(path)
    source = path.relative_to(root).as_posix()
    data = read_bytes(path, options.max_bytes)
    base: dict[str, Any] = {"source": source, "content_hash": content_hash(data), "format": fmt}
    if fmt == "pdf":
        return [
            _document(page.text, {**base, "page": page.number, **_page_extras(page)})
            for page in pdf_pages(data, options)
        ]
    if fmt == "docx":
        return [_document(docx_text(data, options.docx_headers_footers), base)]
    if fmt == "pptx":
        return [
            _document(text, {**base, "page": number})
            for number, text in pptx_slides(data, options.pptx_notes)
        ]
    if fmt == "html":
        text, title = html_to_text(data)
        return [_document(text, {**base, "title": title} if title else base)]
    return [_document(decode_text(data), base)]


def _page_extras(page: PdfPage) -> dict[str, Any]:
    return {
        **({"ocr": True} if page.ocr else {}),
        **({"header_path": page.header_path} if page.header_path else {}),
    }


def _document(text: str, metadata: dict[str, Any]) -> Document:
    # Content-addressed: the same file bytes at the same path give the same ids on every run.
    doc_id = stable_id(metadata["source"], metadata["content_hash"], metadata.get("page", 0))
    return Document(id=doc_id, text=text, metadata=metadata)
