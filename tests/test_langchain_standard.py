"""LangChain's own standard test suites (langchain-tests), run on both adapters with the real model."""

from __future__ import annotations

import inspect
import uuid
from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from rag_index.build import build_chunker, build_lexical, build_store
from rag_index.config import Config
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.index.run import index_folder
from rag_index.integrations.langchain import PoolingEmbeddings, RagIndexRetriever
from rag_index.search.retriever import Retriever
from tests.conftest import DATA


def _mark_async_tests(*suites: type) -> None:
    # The suites' async tests are plain `async def`, written for asyncio_mode=auto; marking just those
    # runs them under pytest-asyncio's default strict mode (marking the module would warn on sync tests).
    for suite in suites:
        for name in dir(suite):
            test = getattr(suite, name)
            if name.startswith("test_") and inspect.iscoroutinefunction(test):
                pytest.mark.asyncio(test)


_mark_async_tests(EmbeddingsIntegrationTests, RetrieversIntegrationTests)

# device="cpu" keeps the tests off any GPU; the adapter's shared-embedder cache loads the model once
# for all the instances the suites create.
EMBEDDER_SETTINGS = {"device": "cpu"}


@pytest.fixture(scope="module")
def data_retriever(embedder: PoolingEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    """The sample corpus data/ indexed once with the real model."""
    config = Config()
    config.store.path = str(tmp_path_factory.mktemp("standard-store"))
    config.store.collection = f"std-{uuid.uuid4().hex[:8]}"
    store = build_store(config.store)
    lexical = build_lexical(config.lexical, store)
    chunker = build_chunker(config.chunking, embedder)
    index_folder(Path(DATA), config.loader, chunker, embedder, store, lexical=lexical, progress=False)
    return Retriever(embedder, store, lexical=lexical)


class _PoolingEmbeddingsUnderTest:
    """What both embeddings suites build: PoolingEmbeddings with EMBEDDER_SETTINGS."""

    @property
    def embeddings_class(self) -> type[PoolingEmbeddings]:
        return PoolingEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return EMBEDDER_SETTINGS


class TestPoolingEmbeddingsUnit(_PoolingEmbeddingsUnderTest, EmbeddingsUnitTests):
    pass


class TestPoolingEmbeddingsIntegration(_PoolingEmbeddingsUnderTest, EmbeddingsIntegrationTests):
    pass


class TestRagIndexRetrieverIntegration(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _core(self, data_retriever: Retriever) -> None:
        # The suite builds retrievers from a property, which cannot take fixtures: keep the index here.
        self.core = data_retriever

    @property
    def retriever_constructor(self) -> type[RagIndexRetriever]:
        return RagIndexRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"retriever": self.core}

    @property
    def retriever_query_example(self) -> str:
        return "How long does the Aurora grinder warranty last?"


class TestRagIndexRetrieverHybridIntegration(TestRagIndexRetrieverIntegration):
    """The same suite with dense and BM25 results fused."""

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"retriever": self.core, "search_type": "hybrid"}


class TestRagIndexRetrieverLexicalIntegration(TestRagIndexRetrieverIntegration):
    """The same suite with BM25 alone."""

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"retriever": self.core, "search_type": "lexical"}
