"""Write data/service-policy.docx and data/cafe-training.pptx, the sample corpus's Office documents.

python-docx and python-pptx write them; the packages are then re-zipped with fixed timestamps and the
document properties carry a fixed date, so re-running the script gives the same parts byte for byte (and the
same files, given the same zlib). Fictional text, written for this project.
Run: python scripts/make_sample_office.py [output-folder]
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

import docx
import pptx
from pptx.util import Inches, Pt

FIXED_DATE = dt.datetime(2027, 1, 4, 9, 0, 0)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

POLICY_TITLE = "Marrowby Service Policy"
# (heading level, heading, paragraphs); a table follows the "Repair fees" section.
POLICY: list[tuple[int, str, list[str]]] = [
    (
        1,
        "Repairs",
        [
            "Every Marrowby grinder can be repaired at our service centre in Bergen. Book a repair on our "
            "website and we send a prepaid shipping label by email the same day.",
            "A standard repair takes 10 working days from the day the grinder reaches the service centre.",
        ],
    ),
    (
        2,
        "Loan grinders",
        [
            "Customers with a cafe subscription get a loan grinder while theirs is being repaired. The loan "
            "grinder ships within two working days and goes back in the box the repaired grinder arrives in.",
        ],
    ),
    (
        2,
        "Repair fees",
        [
            "Repairs under warranty are free of charge. Outside the warranty, these fixed fees apply, parts "
            "included:",
        ],
    ),
    (
        1,
        "Spare parts",
        [
            "Spare parts are stocked for ten years after a model leaves the catalogue. Parts that wear, such "
            "as burrs and brushes, can be ordered without sending the grinder in.",
        ],
    ),
]
FEES = [
    ("Service", "Fee", "Time"),
    ("Burr alignment", "35 EUR", "5 working days"),
    ("Motor replacement", "89 EUR", "10 working days"),
    ("Express repair (any of the above)", "add 40 EUR", "3 working days"),
]

DECK: list[tuple[str, list[str], str]] = [
    (
        "Aurora in the cafe",
        ["Barista training, part 1", "Marrowby Instruments"],
        "Welcome the team and explain that the session takes about forty minutes.",
    ),
    (
        "Dialling in each morning",
        [
            "Grind one test dose before opening",
            "Taste the shot and move the dial one step at a time",
            "Write the morning setting on the board next to the grinder",
        ],
        "Baristas should never change the setting during a rush without telling the shift lead.",
    ),
    (
        "Steaming milk",
        [
            "Purge the steam wand before and after every jug",
            "Steam whole milk to 60 to 65 degrees Celsius",
            "Above 70 degrees the milk tastes cooked and loses its sweetness",
        ],
        "Hand round the jug thermometers now and let everyone steam one jug.",
    ),
]
CHECKLIST = [
    ("Task", "When"),
    ("Soak the steam wand tip", "every evening"),
    ("Wash the milk jugs", "after every shift"),
    ("Count the bean stock", "every Friday"),
]


def build_docx() -> bytes:
    """The service policy: a title, headings, paragraphs, a fee table, a page header and footer."""
    document = docx.Document()
    document.add_paragraph(POLICY_TITLE, style="Title")
    document.add_paragraph(
        "This policy covers repairs, loan grinders and spare parts for all Marrowby grinders."
    )
    for level, heading, paragraphs in POLICY:
        document.add_heading(heading, level=level)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
        if heading == "Repair fees":
            table = document.add_table(rows=len(FEES), cols=len(FEES[0]))
            table.style = "Table Grid"
            for row, cells in zip(table.rows, FEES, strict=True):
                for cell, text in zip(row.cells, cells, strict=True):
                    cell.text = text
    section = document.sections[0]
    section.header.paragraphs[0].text = "Marrowby Instruments - Service Policy, January 2027"
    section.footer.paragraphs[0].text = "Internal and customer use"
    properties = document.core_properties
    properties.title, properties.author, properties.last_modified_by = (
        POLICY_TITLE,
        "Marrowby Instruments",
        "",
    )
    properties.created = properties.modified = FIXED_DATE
    properties.revision = 1
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip(buffer.getvalue())


def build_pptx() -> bytes:
    """The training deck: three title-and-bullets slides with speaker notes, then a checklist table."""
    presentation = pptx.Presentation()
    for title, bullets, notes in DECK:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = "\n".join(bullets)
        slide.notes_slide.notes_text_frame.text = notes
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = "Cleaning checklist"
    shape = slide.shapes.add_table(len(CHECKLIST), 2, Inches(1), Inches(2), Inches(8), Inches(2))
    for row, cells in zip(shape.table.rows, CHECKLIST, strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
            cell.text_frame.paragraphs[0].runs[0].font.size = Pt(18)
    slide.notes_slide.notes_text_frame.text = "Print this slide and hang it next to the grinder."
    properties = presentation.core_properties
    properties.title, properties.author, properties.last_modified_by = DECK[0][0], "Marrowby Instruments", ""
    properties.created = properties.modified = FIXED_DATE
    properties.revision = 1
    buffer = io.BytesIO()
    presentation.save(buffer)
    return _fixed_zip(buffer.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same package re-zipped with every entry dated 1980-01-01, in the same order."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(zipfile.ZipInfo(info.filename, ZIP_DATE), source.read(info), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def main() -> None:
    """Write both files into the folder given on the command line, or into data/."""
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "data"
    for name, data in (("service-policy.docx", build_docx()), ("cafe-training.pptx", build_pptx())):
        (folder / name).write_bytes(data)
        print(f"wrote {folder / name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
