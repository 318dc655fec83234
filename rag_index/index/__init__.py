"""Indexing: survey a folder against the manifest, then parse, embed and write what changed, crash-safely."""
