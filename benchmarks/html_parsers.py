"""Compare HTML-to-text with selectolax (lexbor) and beautifulsoup4 (html.parser) on speed and output.

Both use the same TextBuilder and rules from rag_index.loaders.html, so only the parser and tree walk differ.
Run: python benchmarks/html_parsers.py   (prints one line per parser and a final JSON line)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.element import NavigableString, Tag

from rag_index.loaders.html import BREAKS, NONE, PARAGRAPH, SKIP_TAGS, TextBuilder, html_to_text
from rag_index.loaders.text import decode_text

REPO = Path(__file__).resolve().parents[1]

# Tag soup that browsers repair by the HTML5 rules (implied end tags, <title> moved into <head>).
MALFORMED = [
    b"<p>one<p>two<div>three</p>four",
    b"<ul><li>a<li>b</ul>after",
    b"<table><td>x<td>y<tr><td>z</table>",
    b"text <b>bold <i>both</b> italic</i> end",
    b"<title>Headless</title><p>body text",
]


def bs4_html_to_text(data: bytes) -> tuple[str, str | None]:
    """The same conversion as rag_index.loaders.html.html_to_text, on a beautifulsoup4 html.parser tree."""
    soup = BeautifulSoup(decode_text(data), "html.parser")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text().split()) if title_tag is not None else ""
    builder = TextBuilder()
    if title:
        builder.add(title)
        builder.separate(PARAGRAPH)
    stack: list[tuple[object, bool]] = [(soup, False)]
    preformatted = 0
    while stack:
        node, leaving = stack.pop()
        if isinstance(node, NavigableString):
            if type(node) is NavigableString:  # not Comment, Doctype, CData, ...
                builder.add(str(node), preformatted > 0)
            continue
        assert isinstance(node, Tag)
        if leaving:
            builder.separate(BREAKS.get(node.name, NONE))
            preformatted -= node.name == "pre"
            continue
        if node.name in SKIP_TAGS:
            continue
        builder.separate(BREAKS.get(node.name, NONE))
        preformatted += node.name == "pre"
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    return builder.text(), title or None


def synthetic_page(target_bytes: int = 1_000_000) -> bytes:
    """A deterministic page of about ``target_bytes``: blocks, inline tags, tables, scripts, comments."""
    head = "<!DOCTYPE html><html><head><title>Synthetic page</title><style>p{margin:0}</style></head><body>"
    parts = [head]
    size, i = len(head), 0
    while size < target_bytes:
        block = (
            f"<section><h2>Section {i}</h2><!-- note {i} -->"
            f"<p>Paragraph {i} has <b>bold</b>, <a href='#s{i}'>a link</a> and &amp; entities&nbsp;here.\n"
            f"   It wraps   across lines.</p><div class='x'><div>Nested {i}<span> inline</span></div></div>"
            f"<ul><li>item {i}a</li><li>item {i}b</li></ul>"
            f"<table><tr><th>k</th><th>v</th></tr><tr><td>{i}</td><td>{i * i}</td></tr></table>"
            f"<script>var v{i} = {i};</script><pre>code {i}\n  indented</pre></section>\n"
        )
        parts.append(block)
        size += len(block)
        i += 1
    parts.append("</body></html>")
    return "".join(parts).encode()


def best_seconds(func: Callable[[bytes], object], data: bytes, repeat: int) -> float:
    """The fastest of ``repeat`` runs, the usual way to time a deterministic function."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func(data)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Time both parsers on a 1 MB synthetic page and check they agree on it and on data/*.html."""
    page = synthetic_page()
    samples = [page, *(path.read_bytes() for path in sorted((REPO / "data").glob("*.html"))), *MALFORMED]
    differ = [data for data in samples if html_to_text(data) != bs4_html_to_text(data)]
    for data in differ:
        print(f"outputs differ on {data[:60]!r}:")
        print(f"    selectolax: {html_to_text(data)[0]!r}\n    bs4:        {bs4_html_to_text(data)[0]!r}")
    results = {}
    for name, func in (("selectolax", html_to_text), ("bs4-html.parser", bs4_html_to_text)):
        seconds = best_seconds(func, page, repeat=3)
        results[name] = round(seconds, 4)
        print(f"{name:16s} {seconds * 1000:8.1f} ms on a {len(page) / 1e6:.2f} MB page")
    print(f"same output on {len(samples) - len(differ)} of {len(samples)} pages")
    print(
        json.dumps(
            {"page_bytes": len(page), "seconds": results, "pages": len(samples), "differ": len(differ)}
        )
    )


if __name__ == "__main__":
    main()
