"""Tests for the .docx and .pptx loaders, on documents the tests write with python-docx and python-pptx."""

from __future__ import annotations

import copy
import io
import uuid
import zipfile
from pathlib import Path

import chromadb
import docx
import pptx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import parse_xml
from msoffcrypto.format.ooxml import OOXMLFile
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.util import Inches

from rag_index.chunking import make_chunker
from rag_index.config import LoaderConfig
from rag_index.index.run import index_folder
from rag_index.loaders import LoadError, LoadOptions, load_file
from rag_index.loaders import ooxml as ooxml_module
from rag_index.search.context import citation
from rag_index.storage.chroma import ChromaStore
from tests.fakes import FakeEmbedder

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def save_docx(document: docx.document.Document, path: Path) -> Path:
    """Write a python-docx document to path."""
    document.save(str(path))
    return path


def save_pptx(presentation: pptx.presentation.Presentation, path: Path) -> Path:
    """Write a python-pptx presentation to path."""
    presentation.save(str(path))
    return path


def load_text(path: Path, **options: object) -> str:
    """The text of a file that loads as exactly one Document."""
    [document] = load_file(path, path.parent, LoadOptions(**options))  # type: ignore[arg-type]
    return document.text


def encrypted(data: bytes, password: str = "secret") -> bytes:
    """The OOXML package encrypted with a password, as Office does (ECMA-376 agile encryption)."""
    source, out = io.BytesIO(data), io.BytesIO()
    OOXMLFile(source).encrypt(password, out)
    return out.getvalue()


# --- docx ---------------------------------------------------------------------------------------------------


@pytest.fixture
def manual(tmp_path: Path) -> Path:
    """A manual with a title, headings, paragraphs, a table with a merged cell, a header and a footer."""
    document = docx.Document()
    document.add_paragraph("Aurora Care Manual", style="Title")
    document.add_paragraph("Read this before the first use.")
    document.add_heading("Cleaning", level=1)
    document.add_paragraph("Brush the burrs every two weeks.")
    document.add_heading("Burr care", level=2)
    document.add_paragraph("Never wash the burrs with water.")
    table = document.add_table(rows=3, cols=3)
    for row, cells in enumerate(
        [("Part", "Interval", ""), ("Burrs", "2 weeks", "brush"), ("Bin", "daily", "")]
    ):
        for column, text in enumerate(cells):
            table.cell(row, column).text = text
    table.cell(0, 1).merge(table.cell(0, 2))  # "Interval" spans two columns
    document.add_heading("Descaling", level=1)
    document.add_paragraph("The grinder needs no descaling.")
    section = document.sections[0]
    section.header.paragraphs[0].text = "Marrowby Instruments - internal"
    section.footer.paragraphs[0].text = "Printed copies are not controlled"
    return save_docx(document, tmp_path / "manual.docx")


def test_docx_headings_become_markdown_headers_in_body_order(manual: Path) -> None:
    assert load_text(manual) == (
        "# Aurora Care Manual\n\n"
        "Read this before the first use.\n\n"
        "# Cleaning\n\n"
        "Brush the burrs every two weeks.\n\n"
        "## Burr care\n\n"
        "Never wash the burrs with water.\n\n"
        "Part | Interval\nBurrs | 2 weeks | brush\nBin | daily\n\n"
        "# Descaling\n\n"
        "The grinder needs no descaling."
    )


def test_docx_metadata(manual: Path) -> None:
    [document] = load_file(manual, manual.parent)
    assert document.metadata["format"] == "docx"
    assert document.metadata["source"] == "manual.docx"
    assert "page" not in document.metadata


def test_docx_with_the_markdown_chunker_gets_header_paths(manual: Path) -> None:
    [document] = load_file(manual, manual.parent)
    chunks = make_chunker("markdown", 400, 0, "characters").split(document)
    paths = {chunk.text.splitlines()[0]: chunk.metadata["header_path"] for chunk in chunks}
    assert paths == {
        "# Aurora Care Manual": "Aurora Care Manual",
        "# Cleaning": "Cleaning",
        "## Burr care": "Cleaning > Burr care",
        "# Descaling": "Descaling",
    }
    table_chunk = next(chunk for chunk in chunks if "Burrs | 2 weeks" in chunk.text)
    assert table_chunk.metadata["header_path"] == "Cleaning > Burr care"


def test_docx_headings_give_header_paths_with_the_default_chunker(manual: Path) -> None:
    [document] = load_file(manual, manual.parent)
    chunks = make_chunker("recursive", 60, 0, "characters").split(document)
    table_chunk = next(chunk for chunk in chunks if "Burrs | 2 weeks" in chunk.text)
    assert table_chunk.metadata["header_path"] == "Cleaning > Burr care"
    assert chunks[-1].metadata["header_path"] == "Descaling"


def test_docx_headers_and_footers_only_when_asked(manual: Path) -> None:
    assert "Marrowby Instruments - internal" not in load_text(manual)
    text = load_text(manual, docx_headers_footers=True)
    assert text.startswith("Marrowby Instruments - internal\n\n# Aurora Care Manual")
    assert text.endswith("The grinder needs no descaling.\n\nPrinted copies are not controlled")


def test_docx_first_page_header_is_read_when_the_document_shows_it(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Body")
    section = document.sections[0]
    section.header.paragraphs[0].text = "Every page"
    section.first_page_header.paragraphs[0].text = "Cover page only"
    path = save_docx(document, tmp_path / "a.docx")
    assert load_text(path, docx_headers_footers=True) == "Every page\n\nBody"
    section.different_first_page_header_footer = True
    save_docx(document, path)
    assert load_text(path, docx_headers_footers=True) == "Every page\n\nCover page only\n\nBody"


def test_docx_styles_based_on_a_heading_are_headings(tmp_path: Path) -> None:
    document = docx.Document()
    style = document.styles.add_style("Chapter Heading", WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Heading 2"]
    document.add_paragraph("Chapter one", style="Chapter Heading")
    document.add_paragraph("Subtitle text", style="Subtitle")
    document.add_heading("Deep", level=6)
    text = load_text(save_docx(document, tmp_path / "a.docx"))
    assert text == "## Chapter one\n\nSubtitle text\n\n###### Deep"


def test_docx_text_that_looks_like_markdown_does_not_become_a_header(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Real", level=1)
    document.add_paragraph("# not a heading\n```not a fence\n#hashtag stays")
    path = save_docx(document, tmp_path / "a.docx")
    [doc] = load_file(path, tmp_path)
    assert doc.text == "# Real\n\n\\# not a heading\n\\```not a fence\n#hashtag stays"
    chunks = make_chunker("markdown", 400, 0, "characters").split(doc)
    assert [chunk.metadata["header_path"] for chunk in chunks] == ["Real"]


def test_docx_reads_content_controls_and_tracked_insertions_not_deletions(tmp_path: Path) -> None:
    document = docx.Document()
    body = document.element.body
    body.insert(
        0,
        parse_xml(
            f"<w:sdt {W_NS}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>Inside a content control</w:t></w:r>"
            "</w:p></w:sdtContent></w:sdt>"
        ),
    )
    body.insert(
        1,
        parse_xml(
            f'<w:p {W_NS}><w:r><w:t xml:space="preserve">Burrs last </w:t></w:r>'
            '<w:del w:id="1" w:author="a"><w:r><w:delText>two</w:delText></w:r></w:del>'
            '<w:ins w:id="2" w:author="a"><w:r><w:t>three</w:t></w:r></w:ins>'
            '<w:r><w:t xml:space="preserve"> years.</w:t></w:r></w:p>'
        ),
    )
    text = load_text(save_docx(document, tmp_path / "a.docx"))
    assert text == "Inside a content control\n\nBurrs last three years."


def test_docx_nested_table_and_line_breaks(tmp_path: Path) -> None:
    document = docx.Document()
    outer = document.add_table(rows=1, cols=2)
    outer.cell(0, 0).text = "Outer"
    inner = outer.cell(0, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "in A"
    inner.cell(0, 1).text = "in B"
    paragraph = document.add_paragraph("first line")
    paragraph.add_run().add_break()
    paragraph.add_run("second line")
    assert (
        load_text(save_docx(document, tmp_path / "a.docx"))
        == "Outer | in A | in B\n\nfirst line\nsecond line"
    )


@pytest.mark.parametrize("suffix", [".docx", ".pptx"])
def test_office_files_that_cannot_be_read_are_skipped_with_a_reason(tmp_path: Path, suffix: str) -> None:
    kind = suffix[1:].upper()
    if suffix == ".docx":
        document = docx.Document()
        document.add_paragraph("Secret plans")
        good = save_docx(document, tmp_path / f"good{suffix}").read_bytes()
    else:
        presentation = pptx.Presentation()
        presentation.slides.add_slide(presentation.slide_layouts[0]).shapes.title.text = "Secret plans"
        good = save_pptx(presentation, tmp_path / f"good{suffix}").read_bytes()
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("readme.txt", "a zip, but no Office document")
    other = docx.Document() if suffix == ".pptx" else pptx.Presentation()
    other_path = tmp_path / ("other.docx" if suffix == ".pptx" else "other.pptx")
    other.save(str(other_path))
    cases = {
        "empty": (b"", r"^empty file$"),
        "truncated": (good[: len(good) // 2], rf"^corrupt {kind}: not a zip archive$"),
        "text": (b"just some text", rf"^corrupt {kind}: not a zip archive$"),
        "zip": (zipped.getvalue(), rf"^corrupt {kind}: KeyError: "),
        "encrypted": (encrypted(good), r"^encrypted \(password required\)$"),
        "legacy": (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
            rf"^not a {kind} file: an old binary Office",
        ),
        "swapped": (other_path.read_bytes(), rf"^not a {kind} file \(its content type is application/vnd\."),
    }
    for name, (data, reason) in cases.items():
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(data)
        with pytest.raises(LoadError, match=reason):
            load_file(path, tmp_path)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(manual: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ooxml_module, "_MAX_UNCOMPRESSED", 10_000)
    with pytest.raises(LoadError, match=r"^too large unzipped: .* \(zip bomb\?\)$"):
        load_file(manual, manual.parent)


def test_a_docx_without_text_is_skipped(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("")
    document.add_table(rows=2, cols=2)
    with pytest.raises(LoadError, match=r"^no text in document$"):
        load_file(save_docx(document, tmp_path / "blank.docx"), tmp_path)


# --- pptx ---------------------------------------------------------------------------------------------------


@pytest.fixture
def deck(tmp_path: Path) -> Path:
    """Three slides: title and bullets with notes and a group; an empty slide; a table with a footer."""
    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])  # title and content
    first.shapes.title.text = "Cold brew basics"
    first.placeholders[1].text_frame.text = "Ratio 1:8\nSteep 16 hours"
    group = first.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(5), Inches(3), Inches(1))
    box.text_frame.text = "Inside a group"
    first.notes_slide.notes_text_frame.text = "Say: keep it in the fridge."
    presentation.slides.add_slide(presentation.slide_layouts[6])  # blank
    third = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    third.shapes.title.text = "Prices"
    table = third.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (row, column), text in {(0, 0): "Size", (0, 1): "Price", (1, 0): "1 l", (1, 1): "9 EUR"}.items():
        table.cell(row, column).text = text
    # A slide-number placeholder copied from the layout, as PowerPoint adds one: it repeats on every slide.
    layout_number = next(
        p for p in third.slide_layout.placeholders if p.placeholder_format.type == PP_PLACEHOLDER.SLIDE_NUMBER
    )
    third.shapes._spTree.append(copy.deepcopy(layout_number._element))
    number = next(s for s in third.placeholders if s.placeholder_format.type == PP_PLACEHOLDER.SLIDE_NUMBER)
    number.text_frame.text = "3"
    return save_pptx(presentation, tmp_path / "deck.pptx")


def test_pptx_gives_one_document_per_slide_with_text(deck: Path) -> None:
    docs = load_file(deck, deck.parent)
    assert [doc.metadata["page"] for doc in docs] == [1, 3]  # slide 2 is empty; numbers keep their place
    assert docs[0].text == (
        "# Cold brew basics\n\nRatio 1:8\nSteep 16 hours\n\nInside a group\n\nSay: keep it in the fridge."
    )
    assert docs[1].text == "# Prices\n\nSize | Price\n1 l | 9 EUR"
    assert all(doc.metadata["format"] == "pptx" for doc in docs)
    assert len({doc.id for doc in docs}) == 2
    assert citation(docs[1].metadata) == "deck.pptx p.3"


def test_pptx_notes_can_be_left_out(deck: Path) -> None:
    first = load_file(deck, deck.parent, LoadOptions(pptx_notes=False))[0]
    assert first.text == "# Cold brew basics\n\nRatio 1:8\nSteep 16 hours\n\nInside a group"


def test_pptx_slide_title_gives_the_header_path(deck: Path) -> None:
    docs = load_file(deck, deck.parent)
    chunks = make_chunker("markdown", 400, 0, "characters").split(docs[1])
    assert [chunk.metadata["header_path"] for chunk in chunks] == ["Prices"]
    assert chunks[0].metadata["page"] == 3


def test_pptx_slide_title_gives_the_header_path_with_the_default_chunker(deck: Path) -> None:
    docs = load_file(deck, deck.parent)
    chunks = [c for doc in docs for c in make_chunker("recursive", 400, 0, "characters").split(doc)]
    assert [chunk.metadata["header_path"] for chunk in chunks] == ["Cold brew basics", "Prices"]


def test_pptx_without_slides_or_text_is_skipped(tmp_path: Path) -> None:
    presentation = pptx.Presentation()
    empty = save_pptx(presentation, tmp_path / "empty.pptx")
    with pytest.raises(LoadError, match=r"^presentation has no slides$"):
        load_file(empty, tmp_path)
    presentation.slides.add_slide(presentation.slide_layouts[6])
    blank = save_pptx(presentation, tmp_path / "blank.pptx")
    with pytest.raises(LoadError, match=r"^no text in presentation$"):
        load_file(blank, tmp_path)


# --- in a run -----------------------------------------------------------------------------------------------


def test_a_run_indexes_office_files_and_reports_the_bad_one(manual: Path, deck: Path, tmp_path: Path) -> None:
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really")
    embedder = FakeEmbedder()
    store = ChromaStore(str(tmp_path / "store"), f"c-{uuid.uuid4().hex}", client=chromadb.EphemeralClient())
    chunker = make_chunker("recursive", 60, 0, "tokens", embedder, embedder.max_content_tokens)
    report = index_folder(tmp_path, LoaderConfig(), chunker, embedder, store, progress=False)
    assert report.files_indexed == 2
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("broken.docx", "corrupt DOCX: not a zip archive")
    ]
    assert set(store.sources()) == {"manual.docx", "deck.pptx"}
    pages = {m["page"] for m in store.collection.get(where={"source": "deck.pptx"})["metadatas"]}
    assert pages == {1, 3}


def test_office_options_are_loader_settings() -> None:
    default = LoaderConfig().text_settings()
    assert LoaderConfig(pptx_notes=False).text_settings() != default
    assert LoaderConfig(docx_headers_footers=True).text_settings() != default
    options = LoaderConfig(pptx_notes=False, docx_headers_footers=True).load_options()
    assert (options.pptx_notes, options.docx_headers_footers) == (False, True)
