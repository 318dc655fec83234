"""Tests for rag_index.loaders: the folder walker and each format's loader, on files the tests make."""

from __future__ import annotations

import codecs
import importlib.util
import io
import json
import os
import zipfile
from pathlib import Path

import pypdf
import pytest

from rag_index.chunking import make_chunker
from rag_index.loaders import FORMATS, PDF_BACKENDS, LoadError, LoadOptions, iter_files, load_file
from rag_index.loaders import pdf as pdf_module
from rag_index.loaders.outline import OutlineEntry, page_paths
from rag_index.loaders.pdf import clean_page_text
from rag_index.loaders.walk import glob_to_regex
from rag_index.types import content_hash, stable_id

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
HANDBOOK = DATA / "handbook.pdf"
HANDBOOK_BYTES = HANDBOOK.read_bytes()
ALL_FORMATS = sorted(FORMATS)
# A real PNG signature and header chunk: the kind of file that ends up renamed to .pdf.
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def write(path: Path, data: bytes | str) -> Path:
    """Create ``path`` (and its folders) with ``data``; str is written as UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def rel_paths(root: Path, **kwargs: list[str]) -> list[str]:
    """iter_files' output as POSIX paths relative to root; defaults are the documented config defaults."""
    options = {"include": ["**/*"], "exclude": [], "formats": ALL_FORMATS, **kwargs}
    return [path.relative_to(root).as_posix() for path in iter_files(root, **options)]


def load_one(path: Path, root: Path | None = None) -> str:
    """Load a file that must give exactly one Document; return its text."""
    docs = load_file(path, root or path.parent)
    assert len(docs) == 1
    return docs[0].text


def pdf_bytes(writer: pypdf.PdfWriter) -> bytes:
    """Serialize a pypdf writer."""
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# --- iter_files ---------------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small folder with nested files, odd suffix cases and files no format claims."""
    root = tmp_path / "root"
    for rel in [
        "b.txt", "a.md", "a-b.txt", "a/x.txt", "sub/c.html", "sub/deeper/d.PDF", "sub/e.HTM",
        "notes.markdown", ".git/config.txt", "README", "image.png", "sub/deeper/notes.rst",
    ]:  # fmt: skip
        write(root / rel, "text")
    return root


def test_iter_files_yields_supported_files_sorted_by_relative_path(tree: Path) -> None:
    expected = [
        ".git/config.txt", "a-b.txt", "a.md", "a/x.txt", "b.txt", "notes.markdown", "sub/c.html",
        "sub/deeper/d.PDF", "sub/e.HTM",
    ]  # fmt: skip
    assert rel_paths(tree) == expected
    assert rel_paths(tree) == sorted(expected)  # string order of the POSIX path, not walk order


def test_iter_files_filters_by_format_with_case_insensitive_suffix(tree: Path) -> None:
    assert rel_paths(tree, formats=["pdf"]) == ["sub/deeper/d.PDF"]
    assert rel_paths(tree, formats=["html", "md"]) == ["a.md", "notes.markdown", "sub/c.html", "sub/e.HTM"]


def test_iter_files_rejects_unknown_format(tree: Path) -> None:
    expected = r"unknown format.*'odt'.*expected some of \['docx', 'html', 'md', 'pdf', 'pptx', 'txt'\]"
    with pytest.raises(ValueError, match=expected):
        rel_paths(tree, formats=["odt"])


def test_iter_files_include_globs_match_top_level_and_nested(tree: Path) -> None:
    assert rel_paths(tree, include=["**/*.txt"]) == [".git/config.txt", "a-b.txt", "a/x.txt", "b.txt"]
    assert rel_paths(tree, include=["*.txt"]) == ["a-b.txt", "b.txt"]  # * does not cross "/"
    assert rel_paths(tree, include=["sub/**"]) == ["sub/c.html", "sub/deeper/d.PDF", "sub/e.HTM"]
    assert rel_paths(tree, include=["a.md", "sub/?.html"]) == ["a.md", "sub/c.html"]


def test_iter_files_exclude_globs(tree: Path) -> None:
    assert rel_paths(tree, exclude=[".git/**", "sub/**", "**/*.md"]) == [
        "a-b.txt", "a/x.txt", "b.txt", "notes.markdown",
    ]  # fmt: skip
    assert rel_paths(tree, exclude=["**/deeper/**"]) == [
        ".git/config.txt", "a-b.txt", "a.md", "a/x.txt", "b.txt", "notes.markdown", "sub/c.html", "sub/e.HTM",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*", "top.txt", True),
        ("**/*", "a/b/c.txt", True),
        ("*.txt", "a/b.txt", False),
        ("a/**/c.txt", "a/c.txt", True),
        ("a/**/c.txt", "a/x/y/c.txt", True),
        ("[!a]*.txt", "b.txt", True),
        ("[!a]*.txt", "a.txt", False),
        ("[ab].txt", "b.txt", True),
        ("file(1).txt", "file(1).txt", True),
    ],
)
def test_glob_to_regex(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_to_regex(pattern).fullmatch(path)) is matches


def test_iter_files_does_not_hang_on_symlink_loops(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "sub" / "a.txt", "a")
    os.symlink(root, root / "sub" / "loop")  # directory loop back to the root
    os.symlink(root / "x.txt", root / "y.txt")  # file loop: x -> y -> x
    os.symlink(root / "y.txt", root / "x.txt")
    assert rel_paths(root) == ["sub/a.txt"]


def test_iter_files_follows_file_symlinks_only_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "real.txt", "inside")
    outside = write(tmp_path / "outside" / "secret.txt", "outside")
    os.symlink(root / "real.txt", root / "alias.txt")
    os.symlink(outside, root / "leak.txt")
    os.symlink(outside.parent, root / "outdir")  # directory symlinks are never followed
    os.symlink(tmp_path / "missing.txt", root / "broken.txt")
    assert rel_paths(root) == ["alias.txt", "real.txt"]


def test_iter_files_skips_fifos(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "a.txt", "a")
    os.mkfifo(root / "pipe.txt")  # reading it would block forever
    assert rel_paths(root) == ["a.txt"]


def test_iter_files_requires_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        rel_paths(write(tmp_path / "file.txt", "x"))


# --- text files ---------------------------------------------------------------------------------------------


def test_text_document_metadata_and_id(tmp_path: Path) -> None:
    raw = b"First line\r\nsecond line\rthird\n"
    path = write(tmp_path / "notes" / "a.txt", raw)
    [doc] = load_file(path, tmp_path)
    digest = content_hash(raw)
    assert doc.text == "First line\nsecond line\nthird\n"
    assert doc.metadata == {"source": "notes/a.txt", "content_hash": digest, "format": "txt"}
    assert doc.id == stable_id("notes/a.txt", digest, 0)
    assert load_file(path, tmp_path) == [doc]  # deterministic


@pytest.mark.parametrize("name", ["guide.md", "guide.MARKDOWN", "GUIDE.Md"])
def test_markdown_is_loaded_as_text(tmp_path: Path, name: str) -> None:
    [doc] = load_file(write(tmp_path / name, "# Title\n\nBody\n"), tmp_path)
    assert (doc.text, doc.metadata["format"]) == ("# Title\n\nBody\n", "md")


@pytest.mark.parametrize(
    "raw",
    [
        codecs.BOM_UTF8 + "café\r\n".encode(),
        "café\n".encode("utf-16"),  # with BOM, native byte order
        codecs.BOM_UTF16_LE + "café\n".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "café\n".encode("utf-16-be"),
    ],
    ids=["utf-8-bom", "utf-16", "utf-16-le", "utf-16-be"],
)
def test_text_accepts_boms(tmp_path: Path, raw: bytes) -> None:
    assert load_one(write(tmp_path / "a.txt", raw)) == "café\n"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("Grüße aus Köln".encode("latin-1"), "^not UTF-8 text$"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)), "^binary file$"),
        (b"plain ascii then a NUL \x00 byte", "^binary file$"),
        (b"", "^empty file$"),
        (b" \n\t\r\n", "^empty file$"),
        ("  \n".encode("utf-16"), "^empty file$"),
    ],
    ids=["latin-1", "elf-binary", "nul-byte", "zero-bytes", "whitespace", "utf-16-whitespace"],
)
def test_text_rejections(tmp_path: Path, raw: bytes, reason: str) -> None:
    with pytest.raises(LoadError, match=reason):
        load_file(write(tmp_path / "a.txt", raw), tmp_path)


def test_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"unsupported file type '\.rst'"):
        load_file(write(tmp_path / "a.rst", "text"), tmp_path)


def test_os_errors_become_load_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LoadError, match=r"^file not found$"):
        load_file(tmp_path / "gone.txt", tmp_path)
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(LoadError, match=r"^is a directory$"):
        load_file(tmp_path / "folder.txt", tmp_path)

    # chmod cannot lock out root (tests may run as root), so simulate the error the OS would raise.
    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    path = write(tmp_path / "locked.txt", "x")
    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(LoadError, match=r"^permission denied$"):
        load_file(path, tmp_path)


# --- HTML ---------------------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head><title> Release
  notes </title><style>.x { color: red }</style><script>var secret = 1;</script></head>
<body><!-- a comment --><noscript>enable javascript</noscript><template><p>template text</p></template>
<h1>Version 2</h1><p>First   paragraph with <b>bold</b>text and a
<a href="#">link</a> &amp; an entity.</p><div>Block<div>nested</div>tail</div>
<ul><li>one</li><li>two</li></ul><table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>
<pre>  keep
    spacing</pre>line<br>break<script>alert("late script")</script></body></html>"""


def test_html_keeps_visible_text_with_block_breaks(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "page.html", PAGE), tmp_path)
    assert doc.metadata["format"] == "html"
    assert doc.metadata["title"] == "Release notes"
    assert doc.text == (
        "Release notes\n\n# Version 2\n\nFirst paragraph with boldtext and a link & an entity.\n\n"
        "Block\n\nnested\n\ntail\n\none\ntwo\n\nk v\na 1\n\n  keep\n    spacing\n\nline\nbreak"
    )


def test_html_headings_become_markdown_headers_and_header_paths(tmp_path: Path) -> None:
    page = (
        "<h1>Guide <em>one</em></h1><p>Intro.</p><pre># a shell comment\n```</pre><h2></h2>"
        "<p># not a heading</p><h3>Deep</h3><p>Body.</p>"
    )
    [doc] = load_file(write(tmp_path / "guide.html", page), tmp_path)
    assert doc.text == (
        "# Guide one\n\nIntro.\n\n\\# a shell comment\n\\```\n\n\\# not a heading\n\n### Deep\n\nBody."
    )
    chunks = make_chunker("recursive", 10, 0, "characters").split(doc)
    assert {c.text: c.metadata.get("header_path") for c in chunks}["Body."] == "Guide one > Deep"
    assert {c.metadata.get("header_path") for c in chunks} == {"Guide one", "Guide one > Deep"}


def test_html_without_title_has_no_title_metadata(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "a.htm", "<p>Just text</p>"), tmp_path)
    assert doc.text == "Just text"
    assert "title" not in doc.metadata


def test_html_with_nothing_visible(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no visible text"):
        load_file(write(tmp_path / "a.html", "<html><script>x()</script><!-- c --></html>"), tmp_path)
    with pytest.raises(LoadError, match=r"^not UTF-8 text$"):
        load_file(write(tmp_path / "b.html", "<p>caf\xe9</p>".encode("latin-1")), tmp_path)


def test_html_survives_deep_nesting(tmp_path: Path) -> None:
    deep = "<div>" * 5000 + "bottom" + "</div>" * 5000  # deeper than Python's recursion limit
    assert load_one(write(tmp_path / "deep.html", deep)) == "bottom"


def test_sample_release_notes_hide_script_style_and_comments() -> None:
    [doc] = load_file(DATA / "release-notes.html", DATA)
    assert "bean library" in doc.text
    markers = ("analyticsMarker", "stylesheet-marker", "comment-marker", "noscript-marker", "document.title")
    for marker in markers:
        assert marker not in doc.text


# --- PDF ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", PDF_BACKENDS)
def test_pdf_pages_of_the_sample_handbook(backend: str) -> None:
    docs = load_file(HANDBOOK, REPO, LoadOptions(pdf_backend=backend))
    digest = content_hash(HANDBOOK_BYTES)
    assert [doc.metadata["page"] for doc in docs] == [1, 2, 3, 4]
    for doc in docs:
        page = doc.metadata["page"]
        expected = {"source": "data/handbook.pdf", "content_hash": digest, "format": "pdf", "page": page}
        assert doc.metadata == expected
        assert doc.id == stable_id("data/handbook.pdf", digest, page)
        assert "\r" not in doc.text and doc.text == doc.text.strip()
    assert "340 grams of beans" in docs[0].text
    assert "grind setting 34 to 40" in docs[1].text
    assert "every two weeks" in docs[2].text
    assert "Error code E7 means the motor overheated" in docs[3].text


def test_pdf_backends_agree_on_the_handbook() -> None:
    texts = [
        [doc.text for doc in load_file(HANDBOOK, DATA, LoadOptions(pdf_backend=name))]
        for name in PDF_BACKENDS
    ]
    first, *others = texts
    assert all(other == first for other in others)


@pytest.mark.parametrize("backend", PDF_BACKENDS)
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (PNG_BYTES, "^not a PDF$"),
        (b"", "^empty file$"),
        (HANDBOOK_BYTES[: len(HANDBOOK_BYTES) // 2], "^corrupt PDF: "),
        (b"%PDF-1.7\n" + b"garbage " * 100, "^corrupt PDF: "),
    ],
    ids=["png-renamed", "zero-bytes", "truncated", "header-only"],
)
def test_pdf_rejections(tmp_path: Path, backend: str, raw: bytes, reason: str) -> None:
    path = write(tmp_path / "doc.pdf", raw)
    with pytest.raises(LoadError, match=reason):
        load_file(path, tmp_path, LoadOptions(pdf_backend=backend))


@pytest.mark.parametrize("backend", PDF_BACKENDS)
def test_pdf_without_text_layer(tmp_path: Path, backend: str) -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(612, 792)  # stands in for a scanned page: nothing to extract
    path = write(tmp_path / "scan.pdf", pdf_bytes(writer))
    with pytest.raises(LoadError, match=r"^no text layer \(image-only PDF\?\)$"):  # OCR: tests/test_ocr.py
        load_file(path, tmp_path, LoadOptions(pdf_backend=backend, ocr="off"))


@pytest.mark.parametrize("backend", PDF_BACKENDS)
def test_pdf_pages_without_text_are_skipped_but_numbering_is_kept(tmp_path: Path, backend: str) -> None:
    reader = pypdf.PdfReader(HANDBOOK)
    writer = pypdf.PdfWriter()
    writer.add_page(reader.pages[0])
    writer.add_blank_page(612, 792)
    writer.add_page(reader.pages[3])
    docs = load_file(
        write(tmp_path / "gap.pdf", pdf_bytes(writer)), tmp_path, LoadOptions(pdf_backend=backend)
    )
    assert [doc.metadata["page"] for doc in docs] == [1, 3]
    assert "E7" in docs[1].text


def test_outline_page_paths_take_the_nearest_entry_at_or_before_each_page() -> None:
    entries = [
        OutlineEntry(0, "Part I", 2),
        OutlineEntry(1, "Item 1", 2),
        OutlineEntry(1, " Item\n2 ", 4),  # whitespace collapsed
        OutlineEntry(2, "Liquidity", None),  # no page: only an ancestor's title for entries below it
        OutlineEntry(3, "Cash", 5),
        OutlineEntry(0, "Part II", 9),  # past the last page
    ]
    assert page_paths(entries, 6) == [
        "",
        "Part I > Item 1",
        "Part I > Item 1",
        "Part I > Item 2",
        "Part I > Item 2 > Liquidity > Cash",
        "Part I > Item 2 > Liquidity > Cash",
    ]
    assert page_paths([], 2) == ["", ""]


@pytest.mark.parametrize("backend", PDF_BACKENDS)
def test_pdf_outline_entries_give_each_page_its_header_path(tmp_path: Path, backend: str) -> None:
    writer = pypdf.PdfWriter(clone_from=HANDBOOK)
    setup = writer.add_outline_item("Setup", 1)  # pypdf counts pages from 0: this is page 2
    writer.add_outline_item("Grinding", 1, parent=setup)
    writer.add_outline_item("Care", 3)
    path = write(tmp_path / "outlined.pdf", pdf_bytes(writer))
    docs = load_file(path, tmp_path, LoadOptions(pdf_backend=backend))
    assert [doc.metadata.get("header_path") for doc in docs] == [
        None,
        "Setup > Grinding",
        "Setup > Grinding",
        "Care",
    ]
    chunks = make_chunker("recursive", 200, 0, "characters").split(docs[1])
    assert {chunk.metadata["header_path"] for chunk in chunks} == {"Setup > Grinding"}


def test_a_damaged_outline_leaves_pages_without_header_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(pdf: object) -> list[OutlineEntry]:
        raise KeyError("/Dest")

    monkeypatch.setattr(pdf_module, "pdfium_outline", broken)
    docs = load_file(HANDBOOK, DATA)
    assert len(docs) == 4 and not any("header_path" in doc.metadata for doc in docs)


def encrypted_handbook(user_password: str) -> bytes:
    """The handbook encrypted with RC4 (AES would need the optional 'cryptography' package in pypdf)."""
    writer = pypdf.PdfWriter(clone_from=HANDBOOK)
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    return pdf_bytes(writer)


@pytest.mark.parametrize("backend", PDF_BACKENDS)
def test_pdf_encrypted_with_a_password_is_rejected(tmp_path: Path, backend: str) -> None:
    path = write(tmp_path / "locked.pdf", encrypted_handbook("user-secret"))
    with pytest.raises(LoadError, match=r"^encrypted \(password required\)$"):
        load_file(path, tmp_path, LoadOptions(pdf_backend=backend))


@pytest.mark.parametrize("backend", PDF_BACKENDS)
def test_pdf_encrypted_with_empty_user_password_loads(tmp_path: Path, backend: str) -> None:
    path = write(tmp_path / "restricted.pdf", encrypted_handbook(""))
    docs = load_file(path, tmp_path, LoadOptions(pdf_backend=backend))
    assert [doc.metadata["page"] for doc in docs] == [1, 2, 3, 4]
    assert "340 grams" in docs[0].text


def test_pdf_unknown_backend_is_a_configuration_error(tmp_path: Path) -> None:
    expected = r"unknown PDF backend 'fitz'; expected one of \['pypdf', 'pypdfium2'\]"
    with pytest.raises(ValueError, match=expected):
        load_file(HANDBOOK, DATA, LoadOptions(pdf_backend="fitz"))


def test_pdf_unexpected_backend_exceptions_become_load_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(data: bytes) -> list[str]:
        raise ValueError("bad /Widths\n  in font")

    monkeypatch.setitem(pdf_module._BACKENDS, "pypdf", explode)
    with pytest.raises(LoadError, match=r"^unreadable PDF: ValueError: bad /Widths in font$"):  # one line
        load_file(HANDBOOK, DATA, LoadOptions(pdf_backend="pypdf"))


def test_clean_page_text() -> None:
    assert clean_page_text("\r\n stock\x02based\r\nline\x00two\x0c\x03 \n") == "stock-based\nlinetwo"


# --- sample corpus ------------------------------------------------------------------------------------------


def test_sample_corpus_loads_completely() -> None:
    files = [path.name for path in iter_files(DATA, ["**/*"], [], ALL_FORMATS)]
    assert files == [
        "cafe-training.pptx", "faq.txt", "guide.md", "handbook.pdf", "release-notes.html",
        "service-policy.docx",
    ]  # fmt: skip
    docs = [doc for path in iter_files(DATA, ["**/*"], [], ALL_FORMATS) for doc in load_file(path, DATA)]
    assert {doc.metadata["format"] for doc in docs} == set(FORMATS)
    assert len({doc.id for doc in docs}) == len(docs)


def test_sample_questions_point_at_existing_pages() -> None:
    questions = json.loads((DATA / "questions.json").read_text())
    assert len(questions) >= 6
    assert sum(q["page"] is not None for q in questions) >= 2
    for question in questions:
        docs = load_file(DATA / question["source"], DATA)
        pages = [doc.metadata.get("page") for doc in docs]
        assert question["page"] in pages


def test_sample_office_generator_reproduces_the_committed_files() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_sample_office", REPO / "scripts" / "make_sample_office.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, data in (
        ("service-policy.docx", module.build_docx()),
        ("cafe-training.pptx", module.build_pptx()),
    ):
        # Part by part: the compressed bytes may differ between zlib builds, what they unpack to may not.
        with zipfile.ZipFile(io.BytesIO(data)) as built, zipfile.ZipFile(DATA / name) as committed:
            assert built.namelist() == committed.namelist(), name
            assert all(built.read(part) == committed.read(part) for part in built.namelist()), name


def test_sample_pdf_generator_reproduces_the_committed_file() -> None:
    spec = importlib.util.spec_from_file_location("make_sample_pdf", REPO / "scripts" / "make_sample_pdf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build_pdf(module.PAGES) == HANDBOOK_BYTES


def test_a_settled_file_is_hashed_once_and_any_write_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """file_digest keeps a digest under the file's identity, size and times (the unchanged check and the
    run after it read each file once); a write moves ctime, so even a same-size rewrite with its mtime
    set back is read again."""
    import time

    from rag_index.loaders import base

    path = tmp_path / "note.txt"
    path.write_text("first version")
    later = time.time() + 60  # as if the file had been written a minute ago: settled
    monkeypatch.setattr(base.time, "time", lambda: later)
    first = base.file_digest(path)
    with monkeypatch.context() as patched:
        patched.setattr(Path, "open", lambda *_: (_ for _ in ()).throw(OSError("not read again")))
        assert base.file_digest(path) == first  # kept: not opened
    stat = path.stat()
    path.write_text("other version")  # the same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    later += 60
    assert base.file_digest(path) != first


def test_a_file_written_just_now_is_hashed_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag_index.loaders import base

    path = tmp_path / "note.txt"
    path.write_text("being written")
    base.file_digest(path)
    monkeypatch.setattr(Path, "open", lambda *_: (_ for _ in ()).throw(OSError("read again")))
    with pytest.raises(LoadError, match="read again"):
        base.file_digest(path)
