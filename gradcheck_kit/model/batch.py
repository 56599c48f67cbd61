"""`Batch`: the user's data, validated once, copied, and kept in the layout the model's code expects.

People hand their data over in several layouts, all read without glue:

* ``rows``: ``(X, y)`` with examples along the first axis — ``X`` (B, ...), ``y`` (B,) labels or (B, K);
* ``columns``: ``(X, Y)`` with examples as columns — ``X`` (D, B), ``Y`` (1, B) or (K, B) (the
  deeplearning.ai convention), decided from the shapes;
* ``pairs``: a list of ``(x, y)`` examples, typically column vectors ``x`` (D, 1), ``y`` (K, 1) (Nielsen's
  ``mini_batch``);
* ``sequence``: ``(inputs, targets, *state)`` for recurrent code whose loss takes the sequence and an
  initial state (``lossFun(inputs, targets, hprev)``); the examples are the time steps.

The model is always called with the user's own layout (`call_args`, `example`); the kit's own analyses
read `rows` (B, features) and `labels` / `one_hot`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ..errors import InputError

__all__ = ["Batch", "Layout", "as_batch"]

Layout = Literal["rows", "columns", "pairs", "sequence"]


def _describe(a: np.ndarray) -> str:
    return f"{a.dtype} array of shape {a.shape}"


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _from_tensor(value: Any) -> Any:
    """A torch tensor as a numpy array (bfloat16, which numpy lacks, through float32)."""
    if not (hasattr(value, "detach") and hasattr(value, "cpu")):
        return value
    tensor = value.detach().cpu()
    if "bfloat16" in str(getattr(tensor, "dtype", "")):
        tensor = tensor.float()
    return tensor.numpy()


def _as_array(name: str, value: Any) -> np.ndarray:
    try:
        array = np.asarray(_from_tensor(value))
    except Exception as exc:  # ragged lists etc.
        raise InputError(f"{name} could not be read as an array ({exc}); expected a numeric array") from exc
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise InputError(f"{name} is a {_describe(array)}; expected a numeric (bool, integer or float) array")
    if array.ndim == 0:
        raise InputError(f"{name} is 0-d (a single number); expected the batch along axis 0, e.g. shape (B, D)")
    if array.size == 0 or array.shape[0] == 0:
        raise InputError(f"{name} is empty (shape {array.shape}); expected at least one example")
    if array.dtype.kind == "f":
        with np.errstate(all="ignore"):
            bad = ~np.isfinite(array)
        if bad.any():
            raise InputError(
                f"{name} has {int(bad.sum())} non-finite value(s) (first at index {_first_bad(bad)}: "
                f"{array[_first_bad(bad)]}); expected finite numbers"
            )
    return array


def _private(array: np.ndarray) -> np.ndarray:
    """A read-only private copy; bools and floats as float64 (the model computes with what it is given)."""
    out = array.astype(np.float64) if array.dtype.kind in "bf" else array.copy()
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Batch:
    """A validated batch.

    Attributes
    ----------
    X, y
        Private read-only copies of the inputs and targets in the model's own layout (``pairs``: the
        examples stacked along a new first axis).
    layout
        How the examples are laid out (see the module docstring).
    extra
        Further positional arguments of the model's calls (recurrent state), passed after ``X, y``.
    input_dtype
        The dtype ``X`` was given in.
    """

    X: np.ndarray
    y: np.ndarray
    layout: Layout = "rows"
    extra: tuple[Any, ...] = ()
    input_dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float64))

    # -- sizes and examples ---------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Number of examples B (time steps for a sequence)."""
        return int(self.X.shape[-1] if self.layout == "columns" else self.X.shape[0])

    def example(self, i: int) -> tuple[Any, Any]:
        """Example ``i`` as the model's per-example code takes it (a column stays a column)."""
        if self.layout == "columns":
            return self.X[:, i:i + 1], self.y[:, i:i + 1]
        return self.X[i], self.y[i]

    def take(self, index: slice | np.ndarray) -> Batch:
        """The examples at ``index``, in the same layout (and the same extra arguments)."""
        if self.layout == "columns":
            return replace(self, X=self.X[:, index], y=self.y[:, index])
        return replace(self, X=self.X[index], y=self.y[index])

    def call_args(self) -> tuple[Any, ...]:
        """Positional arguments for a model call that takes the whole batch, in the user's layout: fresh
        writable copies, so user code that writes into its inputs cannot change the kit's."""
        if self.layout == "pairs":
            return ([(np.array(x), np.array(t)) for x, t in zip(self.X, self.y)],)
        extra = copy.deepcopy(self.extra) if self.extra else ()
        if self.layout == "sequence":
            return (_steps(self.X), _steps(self.y), *extra)
        return (self.X, self.y, *extra)

    def with_arrays(self, X: np.ndarray, y: np.ndarray) -> Batch:
        """The same batch with other arrays of the same layout (writable copies, for side-effect probes)."""
        return replace(self, X=X, y=y)

    # -- the kit's own view: rows ---------------------------------------------------------------
    @property
    def rows(self) -> np.ndarray:
        """Inputs as (B, features) rows, whatever the layout (for statistics such as the input scale)."""
        X = np.moveaxis(self.X, -1, 0) if self.layout == "columns" else self.X
        return X.reshape(X.shape[0], -1)

    @property
    def target_rows(self) -> np.ndarray:
        """Targets with examples as rows: (B,) labels or (B, K)."""
        if self.layout == "columns":
            y = np.moveaxis(self.y, -1, 0)
            return y[:, 0] if y.shape[1] == 1 and self.y.dtype.kind in "iu" else y
        if self.layout == "pairs" or self.y.ndim > 2:  # per-example columns (K, 1): one row each
            return self.y.reshape(self.size, -1) if self.y.ndim > 1 else self.y
        return self.y

    def labels(self) -> np.ndarray:
        """Class indices, shape (B,), for the kit's own losses and checks."""
        y = self.target_rows
        if y.ndim == 2:
            return np.asarray(y.argmax(axis=1), dtype=np.intp)
        return np.asarray(y, dtype=np.intp)

    def one_hot(self, n_classes: int) -> np.ndarray:
        """Targets as (B, K) float64 rows (one-hot, or the given soft targets)."""
        y = self.target_rows
        if y.ndim == 2:
            return np.asarray(y, dtype=np.float64)
        targets = np.zeros((self.size, n_classes))
        targets[np.arange(self.size), self.labels()] = 1.0
        return targets

    def comparable(self, n_outputs: int) -> bool:
        """Whether outputs with ``n_outputs`` columns can be scored against these targets: class labels or
        one-hot rows always (a mismatch is the user's error, said by `check_labels`), real-valued targets
        only with as many values per example."""
        y = self.target_rows
        if y.ndim == 1 or n_outputs < 2:
            return True
        rows = np.asarray(y).reshape(self.size, -1)
        classes = rows.dtype.kind in "iub" or bool(np.all((rows == 0) | (rows == 1)))
        return classes or rows.shape[1] == n_outputs

    def check_labels(self, n_outputs: int) -> None:
        """Raise `InputError` unless ``y`` fits a model with ``n_outputs`` output columns.

        With one output column (regression, or a single sigmoid) any finite targets are accepted.
        """
        y = self.target_rows
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
        elif y.ndim == 2 and y.shape[1] != n_outputs:
            raise InputError(
                f"targets y have shape {y.shape}; expected ({self.size}, {n_outputs}) one-hot rows "
                f"for a model with {n_outputs} output columns, or class indices of shape ({self.size},)"
            )
        elif y.ndim > 2:
            raise InputError(
                f"targets y have shape {y.shape}; expected class indices ({self.size},) or one-hot ({self.size}, K)"
            )

    def describe(self) -> str:
        """How the examples were read, for the report's notes."""
        return {
            "rows": f"examples as rows: X {self.X.shape}, y {self.y.shape}",
            "columns": f"examples as columns: X {self.X.shape}, y {self.y.shape} (decided from the shapes)",
            "pairs": f"a list of {self.size} (x, y) examples: x {self.X.shape[1:]}, y {self.y.shape[1:]}",
            "sequence": f"a sequence of {self.size} steps with {len(self.extra)} more argument(s) (initial state)",
        }[self.layout]


def _columns(X: np.ndarray, y: np.ndarray) -> bool:
    """Examples as columns: the targets share X's last axis but not its first (Y (1, B) or (K, B))."""
    return (X.ndim == 2 and y.ndim == 2 and y.shape[1] == X.shape[1] and y.shape[0] != X.shape[0]
            and X.shape[1] > 1)


def _pairs(batch: Sequence[Any]) -> Batch:
    xs, ys = [], []
    for i, item in enumerate(batch):
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise InputError(f"batch item {i} is a {type(item).__name__}; expected an (x, y) pair like every other "
                             f"item")
        xs.append(_as_array(f"x of example {i}", item[0]))
        ys.append(_as_array(f"y of example {i}", item[1]) if np.ndim(item[1]) else np.asarray(item[1]))
    for name, arrays in (("x", xs), ("y", ys)):
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise InputError(f"the examples' {name} have different shapes {sorted(shapes)}; expected one shape")
    X, y = np.stack(xs), np.stack(ys)
    return Batch(X=_private(X), y=_private(y), layout="pairs", input_dtype=X.dtype)


def _split(batch: Any) -> tuple[Any, Any, tuple[Any, ...]]:
    if isinstance(batch, Mapping):
        missing = [k for k in ("X", "y") if k not in batch]
        if missing:
            raise InputError(f"batch mapping has keys {sorted(map(str, batch))}; expected 'X' and 'y'")
        return batch["X"], batch["y"], ()
    if isinstance(batch, tuple | list):
        if len(batch) < 2:
            raise InputError(f"batch is a {type(batch).__name__} of length {len(batch)}; expected (X, y)")
        return batch[0], batch[1], tuple(batch[2:])
    try:
        if hasattr(batch, "X") and hasattr(batch, "y"):
            return batch.X, batch.y, ()
    except Exception as exc:  # a property that raises
        raise InputError(f"reading batch.X / batch.y raised {type(exc).__name__}: {exc}; expected the inputs and "
                         f"targets as arrays") from exc
    raise InputError(f"batch is a {type(batch).__name__}; expected (X, y), a list of (x, y) examples, a mapping "
                     f"with 'X' and 'y', or an object with .X and .y")


def _is_pair_list(batch: Any) -> bool:
    return (isinstance(batch, list) and len(batch) >= 1 and all(isinstance(i, tuple) and len(i) == 2 for i in batch)
            and not (len(batch) == 2 and all(isinstance(i, np.ndarray) for i in batch)))


def as_batch(batch: Any) -> Batch:
    """Validate and copy a batch: ``(X, y)``, a list of ``(x, y)`` examples, ``(inputs, targets, *state)``,
    ``{"X": ..., "y": ...}`` or an object with ``X``/``y`` (see the module docstring)."""
    if isinstance(batch, Batch):
        return batch
    if _is_pair_list(batch):
        return _pairs(batch)
    X, y, extra = _split(batch)
    X_arr = _as_array("X", X)
    y_arr = _as_array("y", y)
    if extra:
        if X_arr.shape[0] != y_arr.shape[0]:
            raise InputError(f"inputs have {X_arr.shape[0]} steps but targets have {y_arr.shape[0]}; expected the "
                             f"same number")
        return Batch(X=_private(X_arr), y=_private(y_arr), layout="sequence", extra=copy.deepcopy(extra),
                     input_dtype=X_arr.dtype)
    y_priv = y_arr.astype(np.intp) if y_arr.dtype.kind == "b" else y_arr
    if _columns(X_arr, y_arr):
        return Batch(X=_private(X_arr), y=_private(y_priv), layout="columns", input_dtype=X_arr.dtype)
    if y_arr.shape[0] != X_arr.shape[0]:
        raise InputError(
            f"X has {X_arr.shape[0]} examples but y has {y_arr.shape[0]}; expected the same number along axis 0 "
            f"(or examples as columns: X (D, B) with y (1, B) or (K, B))"
        )
    return Batch(X=_private(X_arr), y=_private(y_priv), layout="rows", input_dtype=X_arr.dtype)


def _steps(array: np.ndarray) -> list[Any]:
    """A sequence as the user's list: of Python numbers (character indices), or of arrays (one column
    vector per time step)."""
    return array.tolist() if array.ndim == 1 else [np.array(step) for step in array]
