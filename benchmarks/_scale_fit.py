"""How a figure grows with the chunk count: a power-law exponent, the closest simple model, a projection."""

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


def project(sizes: Sequence[float], values: Sequence[float], target: float) -> float:
    """value at target chunks, carried on from the largest measured size by the fitted exponent."""
    return values[-1] * (target / sizes[-1]) ** exponent(sizes, values)
