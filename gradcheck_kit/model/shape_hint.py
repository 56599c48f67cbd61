"""What to add to a shape error raised by the model's code: X's shape and what its first layer takes."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .batch import Batch
from .naming import layer_of, order_layers

__all__ = ["input_width_hint"]

#: Words numpy and torch use in their shape-mismatch errors (matmul's gufunc text, dot, broadcasting).
_SHAPE_WORDS = ("matmul", "shapes", "not aligned", "broadcast", "core dimension", "size of tensor", "mat1 and mat2")


def input_width_hint(exc: BaseException, batch: Batch | None, params: Iterable[tuple[str, np.ndarray]]) -> str:
    """``X has shape (16, 12): 12 features per example, but the first layer's W1 has shape (6, 8), so it
    takes 6; ...: `` to put before the model's own error, or ``""`` when the error is not about shapes, the
    first layer's weight cannot be read, or it fits X."""
    if batch is None or not isinstance(exc, ValueError | RuntimeError | TypeError):
        return ""
    if not any(word in str(exc) for word in _SHAPE_WORDS) or batch.X.ndim != 2 or batch.layout == "pairs":
        return ""
    weights = [(name, np.shape(a)) for name, a in params if np.ndim(a) == 2]
    if not weights:
        return ""
    first = order_layers([name for name, _ in weights])[0]
    name, shape = next(((n, s) for n, s in weights if layer_of(n) == first), weights[0])
    columns = batch.layout == "columns"
    features = batch.X.shape[0] if columns else batch.X.shape[1]
    takes = shape[1] if columns else shape[0]
    if features in shape:
        return ""
    return (f"X has shape {batch.X.shape}: {features} features per example, but the model's first layer "
            f"{name} has shape {shape}, so it takes {takes}; pass X with {takes} features, or build the model for "
            f"{features}. The model's code: ")
