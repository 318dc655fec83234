"""PDF text extraction, one string per page, with two interchangeable backends and OCR (loaders/ocr.py).

pypdfium2 (PDFium, the engine in Chrome) is the default: on 20 SEC 10-Q filings it was 18x faster than pypdf
and read the 2 files pypdf refused (benchmarks/pdf_backends.py). pypdf (pure Python) stays as an option.
Each page also gets the heading path of the outline (bookmark) entry that covers it (loaders/outline.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import NamedTuple

from rag_index.loaders.base import LoadError, LoadOptions, one_line
from rag_index.loaders.ocr import OcrUnavailable, check_ocr_mode, ocr_pages
from rag_index.loaders.outline import OutlineEntry, page_paths, pdfium_outline, pypdf_outline
from rag_index.loaders.text import normalize_newlines

# PDF readers accept a header anywhere in the first 1 KiB (junk may precede it), as PDFium does.
_HEADER_WINDOW = 1024
# Control characters are extraction artefacts, not text: NUL padding, the form feed some extractors put
# between pages, stray \x03s. The STX that PDFium emits for a hyphen at a line break ("stock\x02based")
# stands for a real hyphen.
_ARTEFACTS = str.maketrans({**{chr(c): None for c in range(32) if chr(c) not in "\t\n"}, "\x02": "-"})


class PdfPage(NamedTuple):
    """One page with text: its number from 1, the text, whether OCR read it from the page's image, and the
    heading path of the outline entry that covers it ("" when none)."""

    number: int
    text: str
    ocr: bool = False
    header_path: str = ""


class Extracted(NamedTuple):
    """What a backend reads from a PDF: the text layer of each page, and the outline."""

    texts: list[str]
    outline: list[OutlineEntry]


def pdf_pages(data: bytes, options: LoadOptions | None = None) -> list[PdfPage]:
    """Each page with text, from its text layer or by OCR (``options.ocr``); LoadError when there is none.

    ``auto`` OCRs the pages that have no text layer, ``force`` every page (its text layer is ignored), ``off``
    none. Without an OCR engine, ``auto`` leaves those pages out as before, and a PDF left with no text is
    refused with a reason that says how to install one; ``force`` refuses every PDF.
    """
    options = options or LoadOptions()
    extract = _backend(options.pdf_backend)
    check_ocr_mode(options.ocr)
    if not data:
        raise LoadError("empty file")
    if b"%PDF-" not in data[:_HEADER_WINDOW]:
        raise LoadError("not a PDF")
    try:
        raw_pages, outline = extract(data)
    except LoadError:
        raise
    except Exception as err:
        # Parsers of untrusted binary input raise all sorts (IndexError, KeyError, struct.error, ...);
        # whatever it is, it is this file's problem and must be reported as a skipped file, not crash the run.
        raise LoadError(f"unreadable PDF: {type(err).__name__}: {one_line(err)}") from err
    if not raw_pages:
        raise LoadError("PDF has no pages")
    layer = [clean_page_text(raw) for raw in raw_pages]
    wanted = [
        number
        for number, text in enumerate(layer, start=1)
        if options.ocr == "force" or (options.ocr == "auto" and not text)
    ]
    read, hint = _read_by_ocr(data, wanted, options) if wanted else ({}, "")
    paths = page_paths(outline, len(layer))
    pages = [
        PdfPage(number, read.get(number, text), number in read, paths[number - 1])
        for number, text in enumerate(layer, start=1)
    ]
    pages = [page for page in pages if page.text]
    if not pages:
        raise LoadError("no text layer (image-only PDF?)" + hint)
    return pages


def _read_by_ocr(data: bytes, numbers: list[int], options: LoadOptions) -> tuple[dict[int, str], str]:
    """(cleaned OCR text per page, "") or, when no engine is installed and ocr is auto, ({}, install hint)."""
    try:
        texts = ocr_pages(data, numbers, options.ocr_dpi, options.ocr_languages)
    except OcrUnavailable as err:
        if options.ocr == "force":
            raise LoadError(f"loader.ocr is force but {err}") from None
        return {}, f"; {err}"
    return {number: clean_page_text(text) for number, text in texts.items()}, "; OCR read no text either"


def clean_page_text(text: str) -> str:
    """LF newlines, no control characters (PDFium's line-break hyphen becomes '-'), no outer whitespace."""
    return normalize_newlines(text).translate(_ARTEFACTS).strip()


def _outline(read: Callable[[], list[OutlineEntry]]) -> list[OutlineEntry]:
    # The outline is an extra: a damaged one must not refuse pages whose text reads fine, so they go without
    # heading paths. Parsers of untrusted input raise all sorts; KeyboardInterrupt and the like still stop.
    try:
        return read()
    except Exception:
        return []


def _pypdfium2_pages(data: bytes) -> Extracted:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        # PDFium tries the empty user password itself, so owner-password-only files open.
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        reasons = {
            pdfium_c.FPDF_ERR_PASSWORD: "encrypted (password required)",
            pdfium_c.FPDF_ERR_SECURITY: "encrypted (unsupported security handler)",
            pdfium_c.FPDF_ERR_FORMAT: "corrupt PDF: data format error",
        }
        code = getattr(err, "err_code", None)  # set by PDFium's document loader only
        raise LoadError(reasons.get(code, f"corrupt PDF: {one_line(err)}")) from None
    texts: list[str] = []
    try:
        outline = _outline(lambda: pdfium_outline(pdf))
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    # get_text_bounded covers the full Unicode range; get_text_range is limited to UCS-2.
                    texts.append(textpage.get_text_bounded())
                finally:
                    textpage.close()
            finally:
                page.close()
    except pdfium.PdfiumError as err:
        raise LoadError(f"corrupt PDF: page {len(texts) + 1}: {one_line(err)}") from None
    finally:
        pdf.close()
    return Extracted(texts, outline)


def _pypdf_pages(data: bytes) -> Extracted:
    import pypdf
    from pypdf.errors import DependencyError, LimitReachedError, PyPdfError

    try:
        # The reader tries the empty password on its own; decrypt("") reports whether that worked.
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise LoadError("encrypted (password required)")
        texts = [page.extract_text() for page in reader.pages]
        return Extracted(texts, _outline(lambda: pypdf_outline(reader)))
    except DependencyError as err:
        # AES needs the optional 'cryptography' package; say so rather than calling the file broken.
        raise LoadError(f"encrypted: pypdf needs an extra package: {one_line(err)}") from None
    except LimitReachedError as err:
        # pypdf's guards against decompression bombs also trip on some large valid files; PDFium reads those.
        raise LoadError(f"over pypdf's safety limits ({one_line(err)}); try the pypdfium2 backend") from None
    except PyPdfError as err:
        raise LoadError(f"corrupt PDF: {one_line(err)}") from None


_BACKENDS: dict[str, Callable[[bytes], Extracted]] = {
    "pypdfium2": _pypdfium2_pages,
    "pypdf": _pypdf_pages,
}

PDF_BACKENDS: tuple[str, ...] = tuple(_BACKENDS)


def _backend(name: str) -> Callable[[bytes], Extracted]:
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown PDF backend {name!r}; expected one of {sorted(_BACKENDS)}") from None


def check_pdf_backend(name: str) -> None:
    """Raise ValueError naming the valid backends when ``name`` is not one of PDF_BACKENDS."""
    _backend(name)
