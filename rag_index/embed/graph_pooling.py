"""Pooling and normalization inside the OpenVINO graph (`embedder.graph_pooling`), so that the compiled
encoder returns [batch, hidden] instead of [batch, tokens, hidden]: less to copy out of the infer request, and
no torch at all on the OpenVINO path. The same arithmetic as pooling.py's functions and torch's F.normalize,
for batches padded on the right (as the embedder pads them)."""

from __future__ import annotations

from typing import Any

GRAPH_POOLINGS = ("mean", "cls")  # what the graph can pool; others stay in torch (pooling.py)


def with_pooling(model: Any, pooling: str, normalize: bool) -> Any:
    """model (outputs last hidden states) with pooling and, if asked, L2 normalization appended."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    if pooling not in GRAPH_POOLINGS:
        raise ValueError(f"pooling {pooling!r} is not one of {', '.join(GRAPH_POOLINGS)} in the graph")
    model = model.clone()  # the caller's model (cached, quantized) stays as it is
    [result] = model.get_results()
    hidden = result.input_value(0)
    axis = ops.constant(np.int64(1))
    if pooling == "cls":  # the first token: padding is on the right
        pooled = ops.gather(hidden, ops.constant(np.int64(0)), axis)
    else:
        mask = ops.unsqueeze(
            ops.convert(model.input("attention_mask"), ov.Type.f32), ops.constant(np.int64(-1))
        )
        total = ops.reduce_sum(ops.multiply(hidden, mask), axis, keep_dims=False)
        count = ops.maximum(ops.reduce_sum(mask, axis, keep_dims=False), ops.constant(np.float32(1e-9)))
        pooled = ops.divide(total, count)
    if normalize:  # x / max(|x|, 1e-12), as F.normalize
        pooled = ops.normalize_l2(pooled, ops.constant(np.array([1], np.int64)), 1e-12, "max")
    model.remove_result(result)
    model.add_results([ops.result(pooled)])
    return model
