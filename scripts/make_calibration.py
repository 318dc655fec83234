"""Write rag_index/embed/calibration.jsonl, the texts `embedder.dtype: int8` calibrates its activations on.

Only the project's own writing: the sample corpus in data/ (fictional, written for this project) and the
README, loaded and chunked by rag-index itself, plus the sample questions. Chunks of 200 tokens (the default
chunk size) and of 64, and the short questions, so that activations are seen at document and query lengths.
The output is deterministic; re-running it leaves the committed file unchanged unless its sources changed
(and a changed file gives a new int8 model and fingerprint, so regenerate it only on purpose). The committed
file was made from the README of 2026-12-02 (`git show b01def0:README.md`), before most of it moved to docs/:
running this now gives other texts.
Run: python scripts/make_calibration.py [output.jsonl]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rag_index.chunking import make_chunker
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.embed.int8 import CALIBRATION_SIZE
from rag_index.loaders import load_file

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Chunk the sample corpus and the README, pick CALIBRATION_SIZE texts, write one JSON string a line."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "rag_index" / "embed" / "calibration.jsonl"
    embedder = PoolingEmbedder(device="cpu", backend="torch", dtype="fp32")  # its tokenizer counts tokens
    documents = [
        doc
        for path in sorted((ROOT / "data").iterdir())
        if path.suffix != ".json"
        for doc in load_file(path, ROOT / "data")
    ]
    documents += load_file(ROOT / "README.md", ROOT)
    questions = [q["question"] for q in json.loads((ROOT / "data" / "questions.json").read_text())]
    long, short = [
        [chunk.text for doc in documents for chunk in chunker.split(doc)]
        for chunker in (
            make_chunker("recursive", size, overlap, "tokens", embedder, embedder.max_content_tokens)
            for size, overlap in ((200, 20), (64, 0))
        )
    ]
    texts = list(dict.fromkeys(long + questions))
    rest = [text for text in dict.fromkeys(short) if text not in set(texts)]
    needed = CALIBRATION_SIZE - len(texts)
    step = len(rest) / needed
    texts += [rest[int(i * step)] for i in range(needed)]  # evenly through the short chunks
    # Interleaved by a fixed stride, so that any prefix (tests calibrate on a few) mixes the kinds.
    texts = [texts[(i * 7) % len(texts)] for i in range(len(texts))] if len(texts) % 7 else texts
    out.write_text("".join(json.dumps(text) + "\n" for text in texts), encoding="utf-8")
    print(f"{out}: {len(texts)} texts ({len(long)} of 200 tokens, {len(questions)} questions)")


if __name__ == "__main__":
    main()
