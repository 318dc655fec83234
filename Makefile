# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
# TORCH picks the torch build; the default is the local CPU wheel on the project's machines.
# GPU users: make demo TORCH="torch --index-url https://download.pytorch.org/whl/cu128"
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

# The peers of the benchmarks pin other torch/transformers/huggingface-hub/pypdf versions than rag-index's
# (pip --dry-run: optimum-intel moves torch to 2.14.1 and transformers to 5.5.4, fastembed and
# langchain-huggingface move huggingface-hub from 2.4.0 to 1.33.0, llama-index-readers-file pypdf from 7.1.1
# to 6.21.4), so they live in a venv of their own: embed.py's (sentence-transformers' OpenVINO backend,
# fastembed) and end_to_end.py's reference pipelines (LangChain, LlamaIndex).
PEERS_VENV ?= .venv-peers
EMBED_PEERS := "optimum-intel[openvino]>=1.20" "sentence-transformers>=3.0" "fastembed>=0.5" "optimum-onnx>=0.1"
PIPELINE_PEERS := "langchain-community>=0.3" "langchain-huggingface>=0.1" "langchain-text-splitters>=0.3" \
	"langchain-chroma>=0.2" "llama-index-core>=0.14" "llama-index-readers-file>=0.7" \
	"llama-index-embeddings-huggingface>=0.8" "llama-index-vector-stores-chroma>=0.6"
# Asked for all at once, pip's resolver backtracked through huggingface-hub for over 15 minutes
# (2026-12-02); in two steps, the second holding the model libraries the first chose, it takes a minute.
HELD := ^(torch|transformers|huggingface[-_]hub|tokenizers|sentence[-_]transformers)==

.PHONY: install demo test test-slow test-scale test-ray-slow lint format clean bench-peers docs

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rag-index index data --set store.path=.rag-index/demo
	$(VENV)/bin/rag-index query "How long does the Aurora grinder warranty last?" --set store.path=.rag-index/demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest

test-slow: $(STAMP)
	$(VENV)/bin/pytest -m slow

# At scale (tests/test_scale.py): 200,000 chunks by default, about 20 minutes on 2 quiet cores; a smaller run:
# make test-scale RAG_INDEX_SCALE_CHUNKS=20000
test-scale: $(STAMP)
	RAG_INDEX_SCALE_CHUNKS=$(or $(RAG_INDEX_SCALE_CHUNKS),200000) $(VENV)/bin/pytest -m scale -s

# The Ray engine's slow tests only (CI runs them): a killed driver converging, the sample PDFs via a server.
test-ray-slow: $(STAMP)
	$(VENV)/bin/pytest -m slow tests/test_ray.py

bench-peers:
	python3 -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet $(TORCH)
	$(PEERS_VENV)/bin/python -m pip install --quiet $(TORCH) $(EMBED_PEERS)
	$(PEERS_VENV)/bin/python -m pip freeze | grep -iE '$(HELD)' > $(PEERS_VENV)/held.txt
	$(PEERS_VENV)/bin/python -m pip install --quiet -c $(PEERS_VENV)/held.txt $(PIPELINE_PEERS)
	@echo "run: python benchmarks/end_to_end.py (or embed.py) --peer-python $(PEERS_VENV)/bin/python"

# The documentation site into site/; strict: a broken link or a missing reference fails the build. It
# executes the notebooks (scripts/docs_notebooks.py; cached in .cache/docs-notebooks/ until they or rag_index change).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(VENV)/bin/mkdocs build --strict

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(PEERS_VENV) .rag-index .pytest_cache .mypy_cache .ruff_cache
