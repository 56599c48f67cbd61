"""Hidden activations a model leaves behind after ``forward`` (``self.hidden``, ``self.a1``, a list of
layer outputs, ...), classified by their range so saturation and dead units can be measured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..model.batch import Batch
from ..model.view import ModelView
from ..numeric.losses import is_probabilities

__all__ = ["Activation", "hidden_activations"]

Kind = Literal["sigmoid", "tanh", "relu"]


@dataclass(frozen=True)
class Activation:
    """One cached (B, H) activation array and the nonlinearity its range suggests."""

    name: str
    kind: Kind
    values: np.ndarray

    @property
    def saturated_fraction(self) -> float:
        """Share of entries in the flat tails (sigmoid < 0.01 or > 0.99; tanh |a| > 0.99); 0 for ReLU."""
        v = self.values
        if self.kind == "sigmoid":
            return float(np.mean((v < 0.01) | (v > 0.99)))
        if self.kind == "tanh":
            return float(np.mean(np.abs(v) > 0.99))
        return 0.0

    @property
    def dead_units(self) -> int:
        """Units that are exactly zero (ReLU) or saturated (sigmoid/tanh) for every example of the batch."""
        v = self.values
        if self.kind == "relu":
            return int(np.sum(np.all(v == 0, axis=0)))
        if self.kind == "sigmoid":
            return int(np.sum(np.all((v < 0.01) | (v > 0.99), axis=0)))
        return int(np.sum(np.all(np.abs(v) > 0.99, axis=0)))


def _classify(values: np.ndarray) -> Kind | None:
    lo, hi = float(values.min()), float(values.max())
    if lo >= 0 and np.mean(values == 0) > 0.05 and hi > 0:
        return "relu"
    if lo >= 0 and hi <= 1:
        return "sigmoid"
    if lo >= -1 and hi <= 1 and lo < 0:
        return "tanh"
    return None


def hidden_activations(view: ModelView, batch: Batch) -> list[Activation]:
    """Run ``predict(X)`` on the private copy and collect the (B, H) activation caches it leaves behind."""
    if not view.can_predict:
        return []
    outputs = view.predict(batch)
    X = batch.X
    try:
        items = list(vars(view.target).items())
    except TypeError:
        return []
    params = {id(a) for a in view.params.values()}
    found: list[Activation] = []
    for name, value in items:
        arrays = [(name, value)] if isinstance(value, np.ndarray) else (
            [(f"{name}[{i}]", v) for i, v in enumerate(value) if isinstance(v, np.ndarray)]
            if isinstance(value, (list, tuple)) else [])
        for label, array in arrays:
            if (id(array) in params or array.dtype.kind != "f" or array.ndim != 2 or array.shape[0] != X.shape[0]
                    or (array.shape == outputs.shape and (np.allclose(array, outputs) or is_probabilities(array)))
                    or array is X or not np.all(np.isfinite(array)) or np.shares_memory(array, X)):
                continue
            kind = _classify(array)
            if kind is not None:
                found.append(Activation(label, kind, np.array(array)))
    return found
