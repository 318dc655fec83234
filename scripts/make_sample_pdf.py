"""Write data/handbook.pdf, the sample corpus's multi-page PDF, from raw PDF objects (no PDF library needed).

The output is deterministic (no dates, fixed ids), so re-running it leaves the committed file unchanged.
Run: python scripts/make_sample_pdf.py [output.pdf]
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

TITLE = "Aurora Grinder Owner's Handbook"

# One entry per page: a heading and its paragraphs. Fictional product; all text written for this project.
PAGES: list[tuple[str, list[str]]] = [
    (
        "Unboxing and setup",
        [
            "Thank you for choosing the Aurora grinder by Marrowby Instruments. This handbook covers setup, "
            "grind settings, cleaning and troubleshooting.",
            "The Aurora hopper holds 340 grams of beans. Fill the hopper only with whole roasted beans; "
            "never pour ground coffee, rice or spices into it.",
            "The grinder uses 54 mm conical burrs made of hardened steel. The burrs arrive already aligned "
            "at the factory, so no calibration is needed before the first use.",
            "Place the grinder on a flat, dry counter at least 10 cm away from the wall. The power switch is "
            "on the back panel, next to the cable.",
        ],
    ),
    (
        "Grind settings",
        [
            "The grind dial has 42 numbered steps. Low numbers give a fine grind and high numbers give a "
            "coarse grind.",
            "Espresso: use grind setting 6 to 10. Start at 8 and adjust by one step at a time.",
            "Pour-over and filter coffee: use grind setting 18 to 24.",
            "French press: use grind setting 34 to 40. A coarse grind keeps the press filter from clogging.",
            "Turn the dial only while the motor is running, so that beans do not jam between the burrs.",
        ],
    ),
    (
        "Cleaning and maintenance",
        [
            "Clean the burrs every two weeks with the brush that ships in the box. Remove the hopper, lift "
            "out the upper burr by its handle, and brush both burrs dry.",
            "Never wash the burrs with water or soap: moisture makes the steel rust.",
            "Empty the grounds bin every day and wipe it with a damp cloth.",
            "Replace the burr set after about 500 kilograms of coffee. Replacement burrs are part number "
            "AUR-54B.",
        ],
    ),
    (
        "Troubleshooting and warranty",
        [
            "Error code E7 means the motor overheated. Switch the grinder off and let it cool for 20 minutes "
            "before grinding again.",
            "Error code E3 means the hopper is not seated. Turn the hopper clockwise until it clicks.",
            "The Aurora carries a three year warranty on the motor and the housing. Register the grinder "
            "within 60 days of purchase to activate the warranty.",
        ],
    ),
]

# Letter size, one-inch margins, Helvetica 11 pt with 15 pt leading.
_WIDTH, _HEIGHT, _MARGIN, _FONT_SIZE, _LEADING, _WRAP = 612, 792, 72, 11, 15, 88


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


def _content_stream(heading: str, paragraphs: list[str]) -> bytes:
    lines = [b"BT", b"/F1 16 Tf", f"{_LEADING + 5} TL".encode(), f"{_MARGIN} {_HEIGHT - _MARGIN} Td".encode()]
    lines += [_pdf_string(TITLE) + b" Tj", b"T*", _pdf_string(heading) + b" Tj", b"T*"]
    lines += [f"/F1 {_FONT_SIZE} Tf".encode(), f"{_LEADING} TL".encode()]
    for paragraph in paragraphs:
        lines.append(b"T*")  # blank line between paragraphs
        lines += [_pdf_string(line) + b" Tj T*" for line in textwrap.wrap(paragraph, _WRAP)]
    lines.append(b"ET")
    return b"\n".join(lines) + b"\n"


def build_pdf(pages: list[tuple[str, list[str]]]) -> bytes:
    """A PDF 1.4 file with one page per ``(heading, paragraphs)`` entry, text drawn with Tj in Helvetica."""
    # Object numbers: 1 catalog, 2 page tree, 3 font, 4 info, then a (page, contents) pair per page.
    page_ids = [5 + 2 * i for i in range(len(pages))]
    kids = b" ".join(b"%d 0 R" % page_id for page_id in page_ids)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title " + _pdf_string(TITLE) + b" /Producer (rag-index scripts/make_sample_pdf.py) >>",
    ]
    for page_id, (heading, paragraphs) in zip(page_ids, pages, strict=True):
        stream = _content_stream(heading, paragraphs)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] " % (_WIDTH, _HEIGHT)
            + b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream")

    # The binary comment on line 2 tells transfer tools the file is not plain text.
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"  # each entry is exactly 20 bytes, EOL included
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def main() -> None:
    """Write the handbook to the path given on the command line, or to data/handbook.pdf."""
    default = Path(__file__).resolve().parents[1] / "data" / "handbook.pdf"
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    target.write_bytes(build_pdf(PAGES))
    print(f"wrote {target} ({target.stat().st_size} bytes, {len(PAGES)} pages)")


if __name__ == "__main__":
    main()
