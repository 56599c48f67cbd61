"""`Batch`: the user's (X, y), validated once and copied so user code can never change the caller's data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["Batch", "as_batch"]


def _describe(a: np.ndarray) -> str:
    return f"{a.dtype} array of shape {a.shape}"


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _as_array(name: str, value: Any) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists etc.
        raise InputError(f"{name} could not be read as an array ({exc}); expected a numeric array") from exc
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise InputError(
            f"{name} is a {_describe(array)}; expected a numeric (bool, integer or float) array"
        )
    if array.ndim == 0:
        raise InputError(f"{name} is 0-d (a single number); expected the batch along axis 0, e.g. shape (B, D)")
    if array.shape[0] == 0:
        raise InputError(f"{name} is empty (shape {array.shape}); expected at least one example")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            raise InputError(
                f"{name} has {int(bad.sum())} non-finite value(s) (first at index {_first_bad(bad)}: "
                f"{array[_first_bad(bad)]}); expected finite numbers"
            )
    return array


@dataclass(frozen=True, eq=False)
class Batch:
    """A validated batch.

    Attributes
    ----------
    X
        Private copy of the inputs, shape (B, ...); floating inputs are float64.
    y
        Private copy of the targets, shape (B,) class labels or (B, K) one-hot / targets.
    input_dtype
        The dtype ``X`` was given in.
    """

    X: np.ndarray
    y: np.ndarray
    input_dtype: np.dtype

    @property
    def size(self) -> int:
        """Number of examples B."""
        return int(self.X.shape[0])

    def labels(self) -> np.ndarray:
        """Class indices, shape (B,), for the kit's own losses and checks."""
        if self.y.ndim == 2:
            return np.asarray(self.y.argmax(axis=1), dtype=np.intp)
        return np.asarray(self.y, dtype=np.intp)

    def one_hot(self, n_classes: int) -> np.ndarray:
        """Targets as (B, K) float64 rows (one-hot, or the given soft targets)."""
        if self.y.ndim == 2:
            return np.asarray(self.y, dtype=np.float64)
        targets = np.zeros((self.size, n_classes))
        targets[np.arange(self.size), self.labels()] = 1.0
        return targets

    def check_labels(self, n_outputs: int) -> None:
        """Raise `InputError` unless ``y`` fits a model with ``n_outputs`` output columns.

        With one output column (regression, or a single sigmoid) any finite targets are accepted.
        """
        y = self.y
        if n_outputs < 2:
            return
        if y.ndim == 1:
            if y.dtype.kind == "f":
                whole = bool(np.all(y == np.round(y)))
                example = y[np.argmax(y != np.round(y))] if not whole else y[0]
                hint = "use y.astype(int)" if whole else "class labels must be whole numbers"
                raise InputError(
                    f"labels y are {y.dtype} (e.g. {example}); expected integer class indices 0..{n_outputs - 1} "
                    f"for a model with {n_outputs} output columns ({hint})"
                )
            low, high = int(y.min()), int(y.max())
            if low < 0 or high >= n_outputs:
                raise InputError(
                    f"labels y range over {low}..{high}; expected class indices 0..{n_outputs - 1} "
                    f"for a model with {n_outputs} output columns"
                )
        elif y.ndim == 2:
            if y.shape[1] != n_outputs:
                raise InputError(
                    f"targets y have shape {y.shape}; expected ({self.size}, {n_outputs}) one-hot rows "
                    f"for a model with {n_outputs} output columns, or class indices of shape ({self.size},)"
                )
        else:
            raise InputError(
                f"targets y have shape {y.shape}; expected class indices ({self.size},) or one-hot ({self.size}, K)"
            )


def as_batch(batch: Any) -> Batch:
    """Validate and copy a batch given as ``(X, y)``, ``{"X": ..., "y": ...}`` or an object with ``X``/``y``."""
    if isinstance(batch, Batch):
        return batch
    if isinstance(batch, Mapping):
        missing = [k for k in ("X", "y") if k not in batch]
        if missing:
            raise InputError(f"batch mapping has keys {sorted(map(str, batch))}; expected 'X' and 'y'")
        X, y = batch["X"], batch["y"]
    elif isinstance(batch, (tuple, list)):
        if len(batch) != 2:
            raise InputError(f"batch is a {type(batch).__name__} of length {len(batch)}; expected (X, y)")
        X, y = batch
    elif hasattr(batch, "X") and hasattr(batch, "y"):
        X, y = batch.X, batch.y
    else:
        raise InputError(f"batch is a {type(batch).__name__}; expected (X, y), a mapping with 'X' and 'y', or an "
                         "object with .X and .y")
    X_arr = _as_array("X", X)
    y_arr = _as_array("y", y)
    if y_arr.shape[0] != X_arr.shape[0]:
        raise InputError(
            f"X has {X_arr.shape[0]} examples but y has {y_arr.shape[0]}; expected the same number along axis 0"
        )
    input_dtype = X_arr.dtype
    X_copy = X_arr.astype(np.float64) if X_arr.dtype.kind in "bf" else X_arr.copy()
    y_copy = y_arr.astype(np.intp) if y_arr.dtype.kind == "b" else y_arr.copy()
    X_copy.setflags(write=False)
    y_copy.setflags(write=False)
    return Batch(X=X_copy, y=y_copy, input_dtype=input_dtype)
