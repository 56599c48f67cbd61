"""Least-squares fits of one vector against another: how causes are told apart from evidence."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EXPLAINED", "FACTOR_TOLERANCE", "fit_scale", "near"]

#: A hypothesis "explains" a gradient when its relative residual is below this.
EXPLAINED = 1e-3
#: A fitted factor "is" a target value within this relative distance.
FACTOR_TOLERANCE = 0.01


def fit_scale(observed: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Least-squares ``c`` with ``observed ≈ c · predicted``, and the relative residual
    ``‖observed − c·predicted‖ / ‖observed‖`` (0 = explained exactly; ``inf`` when undefined)."""
    observed = np.asarray(observed, dtype=np.float64).reshape(-1)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if not (np.all(np.isfinite(observed)) and np.all(np.isfinite(predicted))):
        return math.nan, math.inf
    denom = float(predicted @ predicted)
    norm = float(np.linalg.norm(observed))
    if denom == 0 or norm == 0:
        return math.nan, math.inf
    scale = float(observed @ predicted) / denom
    return scale, float(np.linalg.norm(observed - scale * predicted)) / norm


def near(value: float, target: float) -> bool:
    """Whether a fitted factor is ``target`` within `FACTOR_TOLERANCE` (relative, at least absolute)."""
    return math.isfinite(value) and abs(value - target) <= FACTOR_TOLERANCE * max(1.0, abs(target))
