"""Whether arrays are finite, cheaply: one sum per array, the exact scan only when the sum is not finite."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["all_finite"]


def all_finite(arrays: Iterable[np.ndarray]) -> bool:
    """Whether every entry is finite: one sum per array (a NaN or inf survives it), the exact scan only
    when a sum is not finite (finite values whose sum overflows)."""
    return all(math.isfinite(np.add.reduce(a, axis=None)) or bool(np.isfinite(a).all()) for a in arrays)
