"""Training learned poolings (an attention head, a query adapter) on judged queries, on the CPU."""
