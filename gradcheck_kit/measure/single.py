"""One example's gradient of one tensor, analytic and by central differences, for a few entries.

Hypotheses about the output delta leave a signature in the output layer's weight gradient that a batch
blurs but one example shows plainly: for one example, row k of that gradient is δ_k times the hidden
activation feeding the output layer, so a wrong delta δ' scales row k by δ'_k / δ_k — whatever that
activation is, with or without an output bias, and without seeing the logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.batch import Batch
from ..model.view import ModelView

__all__ = ["EntryGradients", "entry_gradients"]


@dataclass(frozen=True)
class EntryGradients:
    """Analytic and numeric derivatives of one example's loss at some entries of one tensor."""

    index: tuple[np.ndarray, ...]
    analytic: np.ndarray
    numeric: np.ndarray
    #: The tensor's values there (a regulariser's gradient is proportional to them).
    values: np.ndarray


def entry_gradients(view: ModelView, batch: Batch, name: str, index: tuple[np.ndarray, ...],
                    *, eps: float | None = None) -> EntryGradients:
    """Central differences (Richardson-extrapolated) of ``view.loss(batch)`` at ``index`` of tensor
    ``name``, next to the model's own gradient there; the working array is put back bitwise."""
    analytic = np.asarray(view.gradients(batch)[name], dtype=np.float64)[index]
    array = view.params[name]
    saved = array.copy()
    base = float(np.cbrt(np.finfo(np.float64).eps)) if eps is None else eps
    positions = list(zip(*index, strict=True))
    numeric = np.empty(len(positions))
    try:
        for n, at in enumerate(positions):
            h = base * max(1.0, abs(float(saved[at])))
            values = []
            for t in (h, -h, 2 * h, -2 * h):
                array[at] = saved[at] + t
                values.append(view.loss(batch))
                array[at] = saved[at]
            numeric[n] = (8 * (values[0] - values[1]) - (values[2] - values[3])) / (12 * h)
    finally:
        np.copyto(array, saved)
    return EntryGradients(index, analytic, numeric, saved[index].astype(np.float64))
