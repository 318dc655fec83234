"""Adapters that expose rag-index to other frameworks; each is thin and holds no logic of its own."""
