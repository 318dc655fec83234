"""Retrieval: search options, the Retriever (similarity, MMR, thresholds), MMR and citation context."""

from rag_index.search.options import SEARCH_TYPES, RetrievalConfig
from rag_index.search.retriever import Retriever

__all__ = ["SEARCH_TYPES", "RetrievalConfig", "Retriever"]
