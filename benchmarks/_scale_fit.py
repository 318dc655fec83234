"""How a figure grows with the chunk count: a power-law exponent, the closest simple model, projections.

Two projections bracket the unknown: the power law carried on from the largest size (right for costs that
grow as log n, too low for a fixed part plus a linear one), and a fixed part plus a cost per chunk (right for
memory and disk, too high for a search that grows as log n).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

MODELS: dict[str, Callable[[float], float]] = {
    "constant": lambda n: 1.0,
    "log n": lambda n: math.log(n),
    "linear": lambda n: n,
    "n log n": lambda n: n * math.log(n),
    "quadratic": lambda n: n * n,
}


def exponent(sizes: Sequence[float], values: Sequence[float]) -> float:
    """The slope b of log(value) against log(size): value grows as size**b (least squares)."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(max(v, 1e-9)) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def best_model(sizes: Sequence[float], values: Sequence[float]) -> str:
    """The model c * f(n) whose log residuals are smallest (c fitted per model)."""

    def residual(f: Callable[[float], float]) -> float:
        logs = [math.log(max(v, 1e-9)) - math.log(f(n)) for n, v in zip(sizes, values, strict=True)]
        c = sum(logs) / len(logs)
        return sum((r - c) ** 2 for r in logs)

    return min(MODELS, key=lambda name: residual(MODELS[name]))


def affine(sizes: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """(fixed part, cost per chunk) of value = a + b * size, least squares; b no less than 0."""
    mx, my = sum(sizes) / len(sizes), sum(values) / len(values)
    spread = sum((x - mx) ** 2 for x in sizes)
    slope = sum((x - mx) * (y - my) for x, y in zip(sizes, values, strict=True)) / spread if spread else 0.0
    slope = max(slope, 0.0)
    return my - slope * mx, slope


def project(sizes: Sequence[float], values: Sequence[float], target: float) -> float:
    """value at target chunks, carried on from the largest measured size by the fitted exponent."""
    return values[-1] * (target / sizes[-1]) ** exponent(sizes, values)


def project_affine(sizes: Sequence[float], values: Sequence[float], target: float) -> float:
    """value at target chunks by the fixed part and the cost per chunk."""
    fixed, per_chunk = affine(sizes, values)
    return fixed + per_chunk * target
