"""Finite-difference step sizes, one per parameter tensor."""

from __future__ import annotations

import numpy as np

__all__ = ["step_size"]


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
    rms = float(np.sqrt(np.mean(np.square(values, dtype=np.float64)))) if values.size else 0.0
    return base * max(1.0, rms)
