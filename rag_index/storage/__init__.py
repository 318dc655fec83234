"""Where chunks are kept: the Chroma collection, the manifest of what each source wrote, and the lock."""
