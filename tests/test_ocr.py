"""Tests for OCR of PDF pages without a text layer, on image-only PDFs the tests draw with Pillow."""

from __future__ import annotations

import io
import json
import sys
import uuid
from pathlib import Path

import chromadb
import pypdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from rag_index.chunking import make_chunker
from rag_index.config import ConfigError, LoaderConfig, load_config
from rag_index.index.run import index_folder
from rag_index.loaders import LoadError, LoadOptions, load_file, ocr_engine_version
from rag_index.loaders.ocr import find_tessdata
from rag_index.storage.chroma import ChromaStore
from tests.conftest import DATA, SHARED
from tests.fakes import FakeEmbedder

SCAN_DPI = 300
# Fictional text written for these tests.
NOTICE = [
    "Harbour Office Notice 7",
    "The ferry to Gull Island leaves the north pier at 07:40 and 16:15 on weekdays.",
    "Tickets cost 4.80 EUR for adults; children under 12 travel free.",
    "In fog the harbour master may hold the ferry for up to 45 minutes.",
]
HINT = "pip install 'rag-index[ocr]'"


def scanned_page(lines: list[str], size_pt: float = 11) -> Image.Image:
    """A white A5 page at SCAN_DPI, the lines drawn in Pillow's bundled font: a scan without a text layer."""
    scale = SCAN_DPI / 72
    image = Image.new("L", (round(420 * scale), round(595 * scale)), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size_pt * scale)
    for number, line in enumerate(lines):
        draw.text((50 * scale, (60 + number * size_pt * 2) * scale), line, fill=0, font=font)
    return image


def image_pdf(*pages: Image.Image) -> bytes:
    """An image-only PDF with one page per image."""
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", save_all=True, append_images=list(pages[1:]), resolution=SCAN_DPI)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    """Write bytes to path and return it."""
    path.write_bytes(data)
    return path


def char_accuracy(truth: str, got: str) -> float:
    """1 - (Levenshtein distance / length of truth), whitespace runs counted as one space."""
    truth, got = " ".join(truth.split()), " ".join(got.split())
    previous = list(range(len(got) + 1))
    for i, a in enumerate(truth, start=1):
        current = [i]
        for j, b in enumerate(got, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return 1 - previous[-1] / len(truth)


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import tesserocr` fail, as on a machine without the ocr extra."""
    monkeypatch.setitem(sys.modules, "tesserocr", None)


@pytest.fixture
def mixed_pdf(tmp_path: Path) -> Path:
    """Page 1 of the sample handbook (a text layer), then a scanned page (an image only)."""
    writer = pypdf.PdfWriter()
    writer.append(pypdf.PdfReader(DATA / "handbook.pdf"), pages=[0])
    writer.append(pypdf.PdfReader(io.BytesIO(image_pdf(scanned_page(NOTICE)))))
    buffer = io.BytesIO()
    writer.write(buffer)
    return write(tmp_path / "mixed.pdf", buffer.getvalue())


def test_the_rendered_page_is_read_with_at_least_95_percent_of_its_characters(tmp_path: Path) -> None:
    path = write(tmp_path / "scan.pdf", image_pdf(scanned_page(NOTICE)))
    [doc] = load_file(path, tmp_path)
    assert char_accuracy("\n".join(NOTICE), doc.text) >= 0.95, doc.text
    assert doc.metadata["ocr"] is True
    assert doc.metadata["page"] == 1 and doc.metadata["format"] == "pdf"


def test_small_print_is_read_at_the_default_resolution(tmp_path: Path) -> None:
    path = write(tmp_path / "small.pdf", image_pdf(scanned_page(NOTICE, size_pt=7)))
    [doc] = load_file(path, tmp_path)
    assert char_accuracy("\n".join(NOTICE), doc.text) >= 0.95, doc.text


def test_auto_reads_only_the_pages_without_a_text_layer(mixed_pdf: Path) -> None:
    first, second = load_file(mixed_pdf, mixed_pdf.parent)
    assert (first.metadata["page"], second.metadata["page"]) == (1, 2)
    assert "ocr" not in first.metadata and first.text.startswith("Aurora Grinder Owner's Handbook")
    assert second.metadata["ocr"] is True and "Gull Island" in second.text


def test_force_reads_every_page_from_its_image(mixed_pdf: Path) -> None:
    docs = load_file(mixed_pdf, mixed_pdf.parent, LoadOptions(ocr="force"))
    assert [doc.metadata["ocr"] for doc in docs] == [True, True]
    assert char_accuracy("Aurora Grinder Owner's Handbook", docs[0].text.splitlines()[0]) >= 0.95


def test_off_keeps_the_text_layer_only(mixed_pdf: Path, tmp_path: Path) -> None:
    [doc] = load_file(mixed_pdf, mixed_pdf.parent, LoadOptions(ocr="off"))
    assert doc.metadata["page"] == 1 and "ocr" not in doc.metadata
    scan = write(tmp_path / "scan.pdf", image_pdf(scanned_page(NOTICE)))
    with pytest.raises(LoadError, match=r"^no text layer \(image-only PDF\?\)$"):
        load_file(scan, tmp_path, LoadOptions(ocr="off"))


def test_a_blank_scan_says_ocr_found_nothing(tmp_path: Path) -> None:
    blank = write(tmp_path / "blank.pdf", image_pdf(Image.new("L", (800, 1100), 255)))
    with pytest.raises(LoadError, match=r"^no text layer \(image-only PDF\?\); OCR read no text either$"):
        load_file(blank, tmp_path)


@pytest.mark.usefixtures("no_engine")
def test_without_the_engine_auto_behaves_as_before_and_names_the_install(
    mixed_pdf: Path, tmp_path: Path
) -> None:
    assert ocr_engine_version() is None
    [doc] = load_file(mixed_pdf, mixed_pdf.parent)  # the scanned page is left out, as before OCR
    assert doc.metadata["page"] == 1
    scan = write(tmp_path / "scan.pdf", image_pdf(scanned_page(NOTICE)))
    with pytest.raises(LoadError) as caught:
        load_file(scan, tmp_path)
    assert str(caught.value) == f"no text layer (image-only PDF?); OCR needs: {HINT}"
    with pytest.raises(
        LoadError, match=r"^loader\.ocr is force but OCR needs: pip install 'rag-index\[ocr\]'$"
    ):
        load_file(scan, tmp_path, LoadOptions(ocr="force"))


def test_installing_the_engine_changes_the_loader_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = LoaderConfig().text_settings()
    assert str(installed["ocr_engine"]).startswith("tesseract ")
    monkeypatch.setitem(sys.modules, "tesserocr", None)
    assert LoaderConfig().text_settings()["ocr_engine"] is None  # so a later install re-reads the scans
    assert LoaderConfig(ocr="off").text_settings()["ocr_engine"] is None
    assert LoaderConfig(ocr_dpi=300).text_settings() != LoaderConfig().text_settings()


def test_missing_language_data_names_the_package(tmp_path: Path) -> None:
    scan = write(tmp_path / "scan.pdf", image_pdf(scanned_page(NOTICE)))
    with pytest.raises(
        LoadError, match=r"^no Tesseract language data for xyz: pip install tessdata\.fast-xyz "
    ):
        load_file(scan, tmp_path, LoadOptions(ocr_languages="eng+xyz"))


def test_tessdata_prefix_is_searched_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "eng.traineddata").write_bytes(b"")
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    assert find_tessdata(["eng"]) == tmp_path


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("loader.ocr=sometimes", r"loader\.ocr: 'sometimes' is not one of off, auto, force"),
        ("loader.ocr_dpi=1200", r"loader\.ocr_dpi: 1200: Input should be less than or equal to 600"),
        ("loader.ocr_languages=eng,deu", r"loader\.ocr_languages: 'eng,deu' is not Tesseract language names"),
    ],
)
def test_bad_ocr_settings_are_config_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_a_run_indexes_a_scanned_pdf_with_ocr_metadata(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    write(root / "notice.pdf", image_pdf(scanned_page(NOTICE)))
    embedder = FakeEmbedder()
    store = ChromaStore(str(tmp_path / "store"), f"c-{uuid.uuid4().hex}", client=chromadb.EphemeralClient())
    chunker = make_chunker("recursive", 100, 0, "tokens", embedder, embedder.max_content_tokens)
    report = index_folder(root, LoaderConfig(), chunker, embedder, store, progress=False)
    assert report.skipped == [] and report.files_indexed == 1
    got = store.collection.get(include=["metadatas", "documents"])
    assert all(meta["ocr"] is True and meta["page"] == 1 for meta in got["metadatas"])
    assert "Gull Island" in " ".join(got["documents"])


# --- the shared sample PDFs ---------------------------------------------------------------------------------

SAMPLES = SHARED / "pdfs" / "sample-files"
# The sample PDFs that are one image per page with no text objects (see tests/test_sample_pdfs.py).
IMAGE_ONLY = ["grayscale-image.pdf", "imagemagick-CCITTFaxDecode.pdf"]


@pytest.mark.parametrize("name", IMAGE_ONLY)
def test_image_only_samples_go_through_ocr(name: str) -> None:
    if not (SAMPLES / "files.json").is_file():
        pytest.skip(f"sample PDFs not found at {SAMPLES} (shared folder beside the repo)")
    assert name in {Path(e["path"]).name for e in json.loads((SAMPLES / "files.json").read_text())["data"]}
    with pytest.raises(LoadError, match=r"^no text layer \(image-only PDF\?\)$"):
        load_file(SAMPLES / name, SAMPLES, LoadOptions(ocr="off"))
    # Their images hold no writing (a drawing of a boy; a 16x16 pixel test image), so OCR, which does run,
    # rightly finds no text to index.
    with pytest.raises(LoadError, match=r"^no text layer \(image-only PDF\?\); OCR read no text either$"):
        load_file(SAMPLES / name, SAMPLES)
