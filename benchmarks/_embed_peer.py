"""One embedder of benchmarks/embed.py, run in its own process: load, warm up, time one encode of the texts.

Run by embed.py, not by hand: python _embed_peer.py PEER TEXTS.json MODEL_DIR OUT.npy [ONNX_DIR]
Prints one JSON line: {"seconds": ...} after writing the vectors to OUT.npy, or {"skipped": reason} when the
peer's package is missing or it cannot run here. Imports nothing of rag-index unless the peer is rag-index's,
so that peers whose packages clash with rag-index's can run from another virtual environment.
Also: python _embed_peer.py export-onnx - MODEL_DIR - ONNX_DIR (the ONNX model fastembed runs).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

Encode = Callable[[list[str]], np.ndarray]
WARM_UP = 64  # texts encoded before timing: first-call allocations and kernel selection


def sentence_transformers(model: str, backend: str) -> Encode:
    """SentenceTransformer.encode, batch 32 (its default), normalized, on the CPU."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model, device="cpu", backend=backend)
    return lambda texts: st.encode(texts, batch_size=32, normalize_embeddings=True)


def rag_index(model: str, dtype: str, graph_pooling: bool = True) -> Encode:
    """rag-index's PoolingEmbedder as the CLI builds it (the default model, so no model argument)."""
    from rag_index.embed.embedder import PoolingEmbedder

    embedder = PoolingEmbedder(dtype=dtype, graph_pooling=graph_pooling)
    if embedder.model_path != Path(model):
        raise RuntimeError(f"rag-index's default model is {embedder.model_path}, not {model}")
    return embedder.encode


def fastembed(model: str, onnx_dir: str) -> Encode:
    """fastembed's TextEmbedding over the ONNX export of the same model, mean pooling, normalized."""
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    name = "local/all-MiniLM-L6-v2-onnx"
    TextEmbedding.add_custom_model(
        model=name,
        pooling=PoolingType.MEAN,
        normalization=True,
        sources=ModelSource(hf=name),
        dim=384,
        model_file="model.onnx",
    )
    embedding = TextEmbedding(name, specific_model_path=onnx_dir)
    return lambda texts: np.asarray(list(embedding.embed(texts, batch_size=32)), dtype=np.float32)


def export_onnx(model: str, onnx_dir: str, max_length: int) -> None:
    """The model as ONNX (optimum's exporter), with a tokenizer that truncates where the others do."""
    from optimum.exporters.onnx import main_export

    main_export(model, output=onnx_dir, task="feature-extraction", local_files_only=True, do_validation=False)
    config_file = Path(onnx_dir) / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    # fastembed truncates at the smaller of these (MiniLM's says max_length 128); the others at 256.
    config["model_max_length"] = config["max_length"] = max_length
    config_file.write_text(json.dumps(config))


def main() -> None:
    """Build the peer, warm it up, time one encode of every text, write the vectors."""
    peer, texts_file, model, out = sys.argv[1:5]
    extra = sys.argv[5] if len(sys.argv) > 5 else ""
    try:
        if peer == "export-onnx":
            export_onnx(model, extra, int(texts_file) if texts_file != "-" else 256)
            print(json.dumps({"exported": extra}))
            return
        encode = {
            "st-torch-fp32": lambda: sentence_transformers(model, "torch"),
            "st-openvino": lambda: sentence_transformers(model, "openvino"),
            "fastembed": lambda: fastembed(model, extra),
            "rag-index": lambda: rag_index(model, "auto"),
            "rag-index-int8": lambda: rag_index(model, "int8"),
            "rag-index-torch-pooling": lambda: rag_index(model, "auto", graph_pooling=False),
            "rag-index-int8-torch-pooling": lambda: rag_index(model, "int8", graph_pooling=False),
        }[peer]()
    except (ImportError, RuntimeError, OSError, ValueError) as err:  # reported by embed.py as skipped
        print(json.dumps({"skipped": f"{type(err).__name__}: {err}".splitlines()[0][:300]}))
        return
    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    encode(texts[:WARM_UP])
    started = time.perf_counter()
    vectors = encode(texts)
    seconds = time.perf_counter() - started
    np.save(out, np.asarray(vectors, dtype=np.float32))
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
