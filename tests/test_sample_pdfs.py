"""Load the py-pdf sample-files corpus with every PDF backend and check the outcome files.json predicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag_index.loaders import PDF_BACKENDS, LoadError, LoadOptions, load_file

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "pdfs" / "sample-files"
if not (SAMPLES / "files.json").is_file():
    pytest.skip(
        f"sample PDFs not found at {SAMPLES} (shared folder beside the repo)", allow_module_level=True
    )

# files.json lists paths in sub-folders; the copy here is flat, so entries are keyed by file name.
ENTRIES: dict[str, dict[str, Any]] = {
    Path(entry["path"]).name: entry for entry in json.loads((SAMPLES / "files.json").read_text())["data"]
}
PDFS = sorted(path.name for path in SAMPLES.glob("*.pdf"))

# files.json does not say which files lack a text layer. These two are one image per page and no text
# objects at all (checked by listing their page objects).
IMAGE_ONLY = {"grayscale-image.pdf", "imagemagick-CCITTFaxDecode.pdf"}
# This copy of unreadablemetadata.pdf has a zeroed-out stretch where object 172, the page tree root, should
# be, so no parser can find its pages (files.json describes the intact upstream file).
CORRUPT = {"unreadablemetadata.pdf"}


def test_every_sample_is_described() -> None:
    assert PDFS, f"no PDFs in {SAMPLES}"
    assert set(PDFS) <= set(ENTRIES)


@pytest.mark.parametrize("backend", PDF_BACKENDS)
@pytest.mark.parametrize("name", PDFS)
def test_sample_pdf(name: str, backend: str) -> None:
    entry = ENTRIES[name]
    path = SAMPLES / name
    if name in CORRUPT:
        with pytest.raises(LoadError, match=r"^corrupt PDF: "):
            load_file(path, SAMPLES, LoadOptions(pdf_backend=backend))
        return
    if name in IMAGE_ONLY:
        with pytest.raises(LoadError, match=r"^no text layer"):
            load_file(path, SAMPLES, LoadOptions(pdf_backend=backend))
        return
    try:
        docs = load_file(path, SAMPLES, LoadOptions(pdf_backend=backend))
    except LoadError as err:
        # An encrypted file may load (empty user password) or be refused, but only as encrypted.
        assert entry["encrypted"], f"{name} failed with {backend}: {err}"
        assert str(err).startswith("encrypted"), str(err)
        return
    pages = [doc.metadata["page"] for doc in docs]
    assert docs, name
    assert pages == sorted(set(pages))
    assert pages[0] >= 1 and pages[-1] <= entry["pages"]
    assert all(doc.text.strip() for doc in docs)
    assert all(doc.metadata["source"] == name and doc.metadata["format"] == "pdf" for doc in docs)
