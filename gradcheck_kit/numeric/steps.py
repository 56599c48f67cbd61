"""Finite-difference step sizes, one per parameter tensor."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["step_size", "sum_of_squares"]


def step_size(values: np.ndarray, *, eps: float | None = None, precision: float = 0.0) -> float:
    """Central-difference step for one tensor.

    ``eps`` (default ``cbrt(machine epsilon)`` of the working dtype, ≈ 6.1e-6 in float64: the step that
    balances truncation, O(h²), against rounding, O(eps/h)) scaled by ``max(1, RMS(values))`` so
    large-magnitude tensors are still moved measurably. ``precision`` is the loss's measured relative
    precision; when it is coarser than the dtype's (the model computes in float32 inside), the step
    grows to ``cbrt(precision)`` so rounding does not swamp the difference.
    """
    machine = max(float(np.finfo(values.dtype).eps), precision)
    base = float(np.cbrt(machine)) if eps is None else float(eps)
    rms = math.sqrt(sum_of_squares(values) / values.size) if values.size else 0.0
    return base * max(1.0, rms)


def sum_of_squares(a: np.ndarray) -> float:
    """Σ a², in float64, without a squared copy of a float64 array."""
    if a.dtype == np.float64 and a.flags.c_contiguous:
        flat = a.reshape(-1)
        return float(np.dot(flat, flat))
    return float(np.sum(np.square(a, dtype=np.float64)))
