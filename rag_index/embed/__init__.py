"""Chunks -> vectors: a transformers encoder (torch or OpenVINO), a pooling strategy, L2 normalization.

Import PoolingEmbedder from rag_index.embed.embedder (or rag_index): this package's own import stays
light, since a config reads pooling names from here without loading torch.
"""
