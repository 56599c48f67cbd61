"""The loss a model implies when it has no loss method of its own.

* a cost object with ``fn(a, y)`` (Nielsen's ``self.cost = CrossEntropyCost``): per example, averaged;
* a ``cost_derivative(output_activations, y)``: the standard loss whose derivative with respect to the
  outputs it computes, recognised from its values (``a − y`` is the derivative of ½‖a − y‖²);
* a loss object it keeps with ``calculate(output, y)`` (nnfs's ``model.set(loss=...)``);
* the name of a loss it was compiled with (``model.loss = "categorical_crossentropy"``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from .batch import Batch
from .kit_loss import KitLoss, standard_loss
from .roles import positional_names

if TYPE_CHECKING:
    from .object_reader import ObjectReader

__all__ = ["implied_loss", "loss_functions"]

COST_DERIVATIVE_NAMES = ("cost_derivative", "loss_derivative", "loss_prime", "cost_prime", "dloss")
#: Attributes that hold the loss as a plain function of (targets, outputs) — ``net.use(mse, mse_prime)``.
LOSS_FUNCTION_NAMES = ("loss", "loss_fn", "loss_function", "cost", "cost_fn", "cost_function", "criterion")
LOSS_PRIME_NAMES = ("loss_prime", "loss_derivative", "loss_grad", "dloss", "cost_prime", "cost_derivative",
                    "d_loss", "loss_fn_prime")
LOSS_NAME_ATTRIBUTES = ("loss", "loss_name", "loss_fn", "cost", "objective")


def _cost_object(reader: ObjectReader, batch: Batch) -> KitLoss | None:
    for name, value in vars(reader.target).items():
        fn = getattr(value, "fn", None)
        if not callable(fn) or len(positional_names(fn)) != 2:
            continue
        shape = np.shape(batch.example(0)[1])

        def per_example(o: np.ndarray, t: np.ndarray, fn: Callable[..., Any] = fn,
                        shape: tuple[int, ...] = shape) -> np.ndarray:
            return np.array([float(fn(o[i].reshape(shape), t[i].reshape(shape))) for i in range(len(o))])

        label = getattr(value, "__name__", type(value).__name__)
        return KitLoss(f"{name}.fn ({label})", per_example, source=f"the model's cost object self.{name}",
                       standard=True)
    return None


def _from_derivative(reader: ObjectReader, batch: Batch, outputs: np.ndarray | None) -> KitLoss | None:
    if outputs is None:
        return None
    for name in COST_DERIVATIVE_NAMES:
        method = getattr(reader.target, name, None)
        if not callable(method) or len(positional_names(method)) != 2:
            continue
        a = outputs[0]
        t = batch.one_hot(outputs.shape[1])[0] if outputs.shape[1] > 1 else batch.target_rows[:1].reshape(-1)
        shape = np.shape(batch.example(0)[1])
        try:
            d = np.asarray(method(a.reshape(shape), t.reshape(shape)), dtype=np.float64).reshape(-1)
        except Exception:
            continue
        finally:
            reader._reset()
        with np.errstate(all="ignore"):
            known = {"half squared error": a - t, "squared error": 2 * (a - t),
                     "binary cross-entropy": (a - t) / (a * (1 - a)), "cross-entropy": -t / a}
        for loss, expected in known.items():
            if expected.shape == d.shape and np.allclose(d, expected, rtol=1e-9, atol=1e-12):
                return standard_loss(loss, source=f"recognised from {name}(), its derivative")
    return None


def _named(reader: ObjectReader) -> KitLoss | None:
    for attr in LOSS_NAME_ATTRIBUTES:
        value = getattr(reader.target, attr, None)
        if isinstance(value, str):
            try:
                return standard_loss(value, source=f"the loss the model was compiled with, self.{attr} = {value!r}")
            except Exception:
                continue
    return None


def implied_loss(reader: ObjectReader, batch: Batch, outputs: np.ndarray | None) -> KitLoss | None:
    """The loss the model implies (see the module docstring), or ``None``."""
    if reader.outputs_call is None:
        return None
    return (_cost_object(reader, batch) or _loss_object(reader) or _from_derivative(reader, batch, outputs)
            or _named(reader))


def _loss_object(reader: ObjectReader) -> KitLoss | None:
    """A loss object the model keeps, not itself called but with a ``calculate(output, y)`` (nnfs's
    ``model.set(loss=Loss_CategoricalCrossentropy())``): the batch loss of the outputs, in the model's layout."""
    state = vars(reader.target) if hasattr(reader.target, "__dict__") else {}
    for name in LOSS_FUNCTION_NAMES:
        value = state.get(name)
        if value is None or callable(value):  # a called loss is a function: `loss_functions`'
            continue
        for method_name in LOSS_OBJECT_METHODS:
            method = getattr(value, method_name, None)
            if callable(method) and len([p for p in positional_names(method) if p[1]]) == 2:
                return KitLoss(f"{name}.{method_name}()", None, batch_fn=partial(_batch_loss, method),
                               source=f"the model's loss object, self.{name}.{method_name}(output, y)")
    return None


def _batch_loss(method: Callable[..., Any], outputs: np.ndarray, targets: np.ndarray) -> float:
    value = method(outputs, targets)
    return float(value[0] if isinstance(value, tuple) else value)  # (data loss, regularisation loss)


#: Methods of a loss object the model keeps that give the batch loss of ``(outputs, y)`` (nnfs's
#: ``self.loss.calculate(output, y)``), when the object itself is not called.
LOSS_OBJECT_METHODS = ("calculate", "compute")


def _function_attribute(target: Any, names: tuple[str, ...]) -> tuple[str, Callable[..., Any]] | None:
    """An attribute of the object itself (not a method) holding a function of two arguments."""
    state = vars(target) if hasattr(target, "__dict__") else {}
    for name in names:
        value = state.get(name)
        if callable(value) and not isinstance(value, type) and len(positional_names(value)) == 2:
            return name, value
    return None


def loss_functions(target: Any) -> tuple[str, Any] | None:
    """The loss an object keeps as functions: ``(description, (loss, loss_prime))``, or ``(description,
    loss)`` without a derivative; ``None`` if it keeps none."""
    found = _function_attribute(target, LOSS_FUNCTION_NAMES)
    if found is None:
        return None
    prime = _function_attribute(target, LOSS_PRIME_NAMES)
    if prime is None:
        return found[0], found[1]
    return f"{found[0]} and self.{prime[0]}", (found[1], prime[1])
