"""Pooling and normalization inside the OpenVINO graph (`embedder.graph_pooling`), so that the compiled
encoder returns [batch, hidden] instead of [batch, tokens, hidden]: less to copy out of the infer request, and
no torch at all on the OpenVINO path. The same arithmetic as pooling.py's functions and torch's F.normalize,
for batches padded on the right (as the embedder pads them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What the graph can pool; others stay in torch (pooling.py). attention needs the head's tensors.
GRAPH_POOLINGS = ("attention", "mean", "cls")


def with_pooling(model: Any, pooling: str, normalize: bool, head: Mapping[str, Any] | None = None) -> Any:
    """model (outputs last hidden states) with pooling and, if asked, L2 normalization appended.

    head: for attention, the learned head's arrays a [hidden] and b [vocabulary] (embed/learned.py).
    """
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
    elif pooling == "attention":
        if head is None:
            raise ValueError("pooling 'attention' in the graph needs the head's tensors")
        pooled = _attention(ops, model, hidden, head)
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


def _attention(ops: Any, model: Any, hidden: Any, head: Mapping[str, Any]) -> Any:
    """Σ w_t h_t, w = softmax(a · LN(h_t) + b[token]) over the real tokens, as AttentionHead computes it."""
    import numpy as np

    last = ops.constant(np.array([-1], np.int64))
    # LayerNorm without affine parameters: torch's eps (1e-5) inside the square root.
    normed = ops.mvn(hidden, last, True, 1e-5, "inside_sqrt")
    a = ops.constant(np.asarray(head["a"], np.float32).reshape(-1, 1))
    logits = ops.squeeze(ops.matmul(normed, a, False, False), last)  # [batch, tokens]
    bias = ops.gather(ops.constant(np.asarray(head["b"], np.float32)), model.input("input_ids"), np.int64(0))
    logits = ops.add(logits, bias)
    real = ops.greater(model.input("attention_mask"), ops.constant(np.int64(0)))
    logits = ops.select(real, logits, ops.constant(np.float32(-np.inf)))
    weights = ops.unsqueeze(ops.softmax(logits, 1), last)
    return ops.reduce_sum(ops.multiply(hidden, weights), ops.constant(np.int64(1)), keep_dims=False)
