"""rag-index as a service: the HTTP app over one warm RagIndex (``rag-index serve``)."""
