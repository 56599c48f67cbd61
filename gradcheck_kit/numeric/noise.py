"""How noisy is the loss itself? Rounding (and non-determinism) measured, not assumed.

Following Moré & Wild's ECnoise idea: evaluate the loss at 7 equally spaced points along one random
direction, at a spacing ``s`` where the smooth part of the loss is still smooth; the k-th differences
(k = 4, 5, 6) of a smooth function at that spacing are negligible, so what remains is noise, with
standard deviation ``σ ≈ sqrt(γ_k · mean((Δ^k f)²))``, ``γ_k = (k!)² / (2k)!``. A loss computed in
float32 inside the model, or one with ``-log(p)`` at ``p ≈ 1``, shows a σ that a formula based on
the loss's value and dtype would miss.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["estimate_noise"]

_ORDERS = (4, 5, 6)


def _gamma(k: int) -> float:
    return math.factorial(k) ** 2 / math.factorial(2 * k)


def estimate_noise(f: Callable[[float], float], base: float, spacing: float) -> float:
    """Standard deviation of the noise in ``f`` near ``t = 0`` (``base = f(0)``); NaN if not finite."""
    values = np.array([f(i * spacing) if i else base for i in range(-3, 4)], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        return math.nan
    estimates = []
    for k in _ORDERS:
        diff = np.diff(values, n=k)
        estimates.append(math.sqrt(_gamma(k) * float(np.mean(diff**2))))
    return float(np.median(estimates))
