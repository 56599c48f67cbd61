"""Losses the kit computes itself, from a model's outputs and the targets.

Used when the model's own code has no loss: a standard loss named by the user (``loss="mse"``), the
user's own loss function (``loss=mse``, or ``loss=(mse, mse_prime)`` for a list of layers whose backward
starts from ``mse_prime``), a loss the model implies (its ``cost`` object, its ``cost_derivative``, the
loss name it was compiled with), or — as the last resort, said in the notes — one identified from the
model's outputs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import InputError
from ..numeric.losses import cross_entropy, is_probabilities
from .roles import TARGET_NAMES, positional_names

__all__ = ["STANDARD_LOSSES", "KitLoss", "loss_from_spec", "standard_loss"]

_EPS = 1e-12


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(p, _EPS, 1 - _EPS)


def _rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1)


def _bce(o: np.ndarray, t: np.ndarray) -> np.ndarray:
    p = _clip(_rows(o))
    return -np.sum(_rows(t) * np.log(p) + (1 - _rows(t)) * np.log(1 - p), axis=1)


def _half_sq(o: np.ndarray, t: np.ndarray) -> np.ndarray:
    return 0.5 * np.sum((_rows(o) - _rows(t)) ** 2, axis=1)


def _sq(o: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.sum((_rows(o) - _rows(t)) ** 2, axis=1)


def _ce(o: np.ndarray, t: np.ndarray) -> np.ndarray:
    o, t = _rows(o), _rows(t)
    return np.array([cross_entropy(o[i:i + 1], t[i:i + 1], probabilities=is_probabilities(o)) for i in range(len(o))])


def _ce_grad(o: np.ndarray, t: np.ndarray) -> np.ndarray:
    if is_probabilities(o):
        return -t / _clip(o)
    shifted = np.exp(o - o.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True) - t


#: ∂ℓ_i/∂o_i of each standard per-example loss, for (B, K) outputs and targets.
_GRADIENTS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "cross-entropy": _ce_grad,
    "binary cross-entropy": lambda o, t: (o - t) / (_clip(o) * (1 - _clip(o))),
    "half squared error": lambda o, t: o - t,
    "squared error": lambda o, t: 2 * (o - t),
}


#: Per-example standard losses of (B, K) outputs and (B, K) targets: name → (per-example fn, description).
STANDARD_LOSSES: dict[str, tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], str]] = {
    "cross-entropy": (_ce, "softmax cross-entropy (softmax applied by the kit when the outputs are scores)"),
    "binary cross-entropy": (_bce, "binary cross-entropy of sigmoid outputs, summed over the outputs"),
    "half squared error": (_half_sq, "½‖o − t‖², summed over the outputs"),
    "squared error": (_sq, "‖o − t‖², summed over the outputs"),
}
_ALIASES = {
    "ce": "cross-entropy", "cross_entropy": "cross-entropy", "crossentropy": "cross-entropy",
    "categorical_crossentropy": "cross-entropy", "categorical_cross_entropy": "cross-entropy",
    "softmax_cross_entropy": "cross-entropy", "nll": "cross-entropy",
    "bce": "mean-bce", "binary_crossentropy": "mean-bce", "binary_cross_entropy": "mean-bce", "log_loss": "mean-bce",
    "quadratic": "half squared error", "half_squared_error": "half squared error",
    "sse": "squared error", "squared_error": "squared error",
    "mse": "mean-mse", "mean_squared_error": "mean-mse", "half_mse": "mean-half-mse",
}
#: Losses averaged over every entry (outputs and examples), as Keras, torch and scikit-learn define them.
_ENTRY_MEANS: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], float]]] = {
    "mean-mse": ("mean squared error (the mean over every output of every example)",
                 lambda o, t: float(np.mean((_rows(o) - _rows(t)) ** 2))),
    "mean-bce": ("binary cross-entropy (the mean over every output of every example)",
                 lambda o, t: float(np.mean(_bce(o, t) / _rows(o).shape[1]))),
    "mean-half-mse": ("half the mean squared error (½ the mean over every output of every example)",
                      lambda o, t: float(0.5 * np.mean((_rows(o) - _rows(t)) ** 2))),
}

#: The per-example loss whose derivative each entry mean uses.
_ENTRY_KEYS = {_ENTRY_MEANS["mean-mse"][0]: "squared error", _ENTRY_MEANS["mean-bce"][0]: "binary cross-entropy",
               _ENTRY_MEANS["mean-half-mse"][0]: "half squared error"}


@dataclass(frozen=True)
class KitLoss:
    """A loss of outputs and targets (both in the model's layout), reduced over the examples.

    ``per_example(outputs, targets)`` returns one loss per example (B,); ``reduction`` is ``"mean"`` or
    ``"sum"`` over the examples. ``prime``, when given, is the derivative with respect to the outputs,
    as the user's code computes it (a list of layers starts its backward pass from it).
    """

    name: str
    per_example: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    reduction: str = "mean"
    batch_fn: Callable[[np.ndarray, np.ndarray], float] | None = None
    prime: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    source: str = ""
    #: A standard loss of (B, K) rows (the kit's own), rather than the user's function in their layout.
    standard: bool = False
    #: What the model's gradient still has to decide (`loss_evidence`): ``"loss"`` (no loss was named),
    #: ``"reduction"`` (a per-example loss was named; mean or sum over the examples), or ``""``.
    undecided: str = ""
    #: Chosen (loss or reduction) from the model's gradient rather than written by anyone.
    identified: bool = False

    def value(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        if self.batch_fn is not None:
            return float(self.batch_fn(outputs, targets))
        if self.per_example is None:
            raise ValueError(f"{self.name}: a KitLoss needs per_example or batch_fn")
        values = self.per_example(outputs, targets)
        return float(np.mean(values) if self.reduction == "mean" else np.sum(values))

    def __call__(self, outputs: np.ndarray, batch: Any, *, per_example: bool = False) -> float:
        """The loss of (B, K) output rows against the batch's targets. A standard loss reads rows; the
        user's own function gets outputs and targets in the model's own layout (columns stay columns,
        and for per-example code — ``per_example`` — one example at a time, averaged)."""
        if self.batch_fn is None or self.standard:
            rows = batch.target_rows
            targets = rows if outputs.shape[1] == 1 or rows.ndim == 2 else batch.one_hot(outputs.shape[1])
            return self.value(outputs, targets)
        if batch.layout == "columns":
            return self.value(outputs.T, batch.y)
        if batch.layout == "pairs" or (per_example and batch.layout == "rows"):
            return float(np.mean([self.value(outputs[i].reshape(batch.y[i].shape), batch.y[i])
                                  for i in range(batch.size)]))
        return self.value(outputs.reshape(batch.y.shape) if outputs.size == batch.y.size else outputs, batch.y)

    def gradient(self, outputs: Any, targets: Any, *, columns: bool = False, one_example: bool = False
                 ) -> np.ndarray | None:
        """∂loss/∂outputs for ``outputs`` and ``targets`` in the model's own layout (examples as rows, or
        as ``columns``) — what a backward that takes the outputs' gradient, ``backward(grad)``, is given;
        ``None`` when the kit cannot say."""
        if self.prime is not None:
            return np.asarray(self.prime(outputs, targets), dtype=np.float64)
        key = self.name if self.name in _GRADIENTS else _ENTRY_KEYS.get(self.name)
        out = np.asarray(outputs, dtype=np.float64)
        if key is None or out.ndim == 0:
            return None
        if one_example:  # one example's outputs, whatever their shape ((K,), (K, 1)): one row
            rows = out.reshape(1, -1)
            t = np.asarray(targets)
            t = t.reshape(1) if t.size == 1 and rows.shape[1] > 1 else t.reshape(1, -1)
        else:
            rows = out.T if columns and out.ndim == 2 else out.reshape(out.shape[0], -1)
            t = np.asarray(targets)
            t = t.T if columns and t.ndim == 2 else t.reshape(t.shape[0], -1) if t.ndim > 1 else t
        if t.ndim == 1 and rows.shape[1] > 1:  # class labels
            t = np.eye(rows.shape[1])[t.astype(int)]
        t = np.asarray(t, dtype=np.float64).reshape(rows.shape)
        grad = _GRADIENTS[key](rows, t)
        if self.name not in _GRADIENTS:  # a mean over every entry
            grad = grad / rows.size
        elif self.reduction != "sum":
            grad = grad / rows.shape[0]
        return grad.T if columns and out.ndim == 2 and not one_example else grad.reshape(out.shape)

    def describe(self) -> str:
        text = self.name if self.batch_fn is not None else f"{self.reduction} {self.name}"
        return f"{text} ({self.source})" if self.source else text


def standard_loss(name: str, *, reduction: str = "mean", source: str = "") -> KitLoss:
    """A standard loss by name (see `STANDARD_LOSSES`; aliases such as ``"mse"`` are accepted)."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key in _ENTRY_MEANS:
        label, fn = _ENTRY_MEANS[key]
        return KitLoss(label, None, batch_fn=fn, standard=True, source=source)
    if key not in STANDARD_LOSSES:
        raise InputError(f"loss={name!r} is not a loss the kit knows; expected one of "
                         f"{sorted(set(STANDARD_LOSSES) | set(_ALIASES))}, or your own function loss(outputs, "
                         f"targets)", option="loss")
    return KitLoss(key, STANDARD_LOSSES[key][0], reduction=reduction, source=source, standard=True)


def _targets_first(fn: Callable[..., Any]) -> bool:
    names = positional_names(fn)
    return bool(names) and names[0][0] in TARGET_NAMES


def _oriented(fn: Callable[..., Any]) -> Callable[[np.ndarray, np.ndarray], Any]:
    """``fn`` called as (outputs, targets), whichever order its parameters are named in."""
    if _targets_first(fn):
        return lambda o, t: fn(t, o)
    return fn


def loss_from_spec(spec: Any) -> KitLoss:
    """``loss=`` for a numpy model: a standard loss name, a function of (outputs, targets) in either order
    (decided from its parameter names: ``mse(y_true, y_pred)``), or (loss, derivative) functions."""
    if isinstance(spec, str):
        named = standard_loss(spec, source="loss= given")
        return replace(named, undecided="reduction") if named.per_example is not None else named
    prime = None
    if isinstance(spec, tuple | list) and len(spec) == 2 and all(callable(f) for f in spec):
        spec, prime = spec
    if not callable(spec):
        raise InputError(f"loss={spec!r}; expected a loss name such as 'mse' or 'cross_entropy', a function "
                         f"loss(outputs, targets), or a pair (loss, loss_derivative)", option="loss")
    if prime is None and _is_criterion(spec):
        return _criterion(spec)
    fn = _oriented(spec)
    name = getattr(spec, "__name__", type(spec).__name__)
    return KitLoss(name, None, batch_fn=lambda o, t: float(np.asarray(fn(o, t), dtype=np.float64).sum()),
                   prime=_oriented(prime) if prime is not None else None, source="loss= given")


def _is_criterion(spec: Any) -> bool:
    """A loss object as torch-like code writes it: ``criterion(outputs, targets)`` then ``backward()``."""
    backward = getattr(spec, "backward", None)
    return not inspect.isfunction(spec) and callable(backward) and not any(r for _, r in positional_names(backward))


def _number(value: Any) -> float:
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, np.ndarray):
        return float(item())
    data = getattr(value, "data", value)
    return float(np.asarray(data, dtype=np.float64).sum())


def _criterion(spec: Any) -> KitLoss:
    def value(o: np.ndarray, t: np.ndarray) -> float:
        return _number(spec(o, t))

    def prime(o: np.ndarray, t: np.ndarray) -> np.ndarray:
        spec(o, t)
        return np.asarray(spec.backward(), dtype=np.float64)

    return KitLoss(type(spec).__name__, None, batch_fn=value, prime=prime, source="loss= given, its backward()")
