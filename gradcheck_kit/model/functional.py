"""`wrap`: plain functions over a parameter dict, made into a model the kit can check — as written.

The functions keep their own signatures; arguments are bound by their names, so course-style code needs
no glue: ``wrap(parameters, forward=L_model_forward, loss=compute_cost, backward=L_model_backward)``
calls ``L_model_forward(X, parameters)`` → ``(AL, caches)``, ``compute_cost(AL, Y)`` and
``L_model_backward(AL, Y, caches)`` → grads (entries such as ``dA1`` that name no parameter are left
out). Functions whose names are not recognised are called in the classic order: ``loss(params, X, y)``,
``grads(params, X, y)``, ``predict(params, X)``, ``train(params, X, y, lr)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from .batch import Batch
from .discovery import is_param_array
from .roles import LR_NAMES, positional_names
from .slots import ItemSlot, Slot
from .view import INFERENCE_LR, ModelView, as_loss_value, gradient_key, match_gradients

__all__ = ["FunctionalModel", "FunctionalView", "wrap"]

#: What a parameter name of the user's functions stands for.
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "params": ("params", "parameters", "p", "theta", "weights", "model", "net", "W_dict", "param"),
    "X": ("X", "x", "inputs", "input", "data", "A0", "A_prev", "features", "images", "xb", "train_data"),
    "y": ("y", "Y", "targets", "target", "labels", "label", "t", "T", "y_true", "yb", "one_hot_labels",
          "labels_onehot", "onehot_labels", "y_onehot", "Y_onehot", "train_labels"),
    "output": ("AL", "A", "A3", "A2", "A_L", "out", "output", "outputs", "y_pred", "yhat", "y_hat", "scores",
               "probs", "logits", "pred", "preds", "predictions", "a", "o", "activations", "h"),
    "cache": ("cache", "caches", "store", "memory", "ctx"),
    "lr": LR_NAMES,
    "grads": ("grads", "gradients", "g", "dparams"),
}


#: Optional parameters the kit sets all the same: one pass over the batch, the whole batch at once.
ONE_PASS = ("epochs", "num_epochs", "n_epochs", "iterations", "num_iterations", "n_iter", "num_passes", "passes")
WHOLE_BATCH = ("batch_size", "mini_batch_size")


def _role(name: str, values: Mapping[str, Any]) -> str | None:
    if f"param:{name}" in values:  # a parameter passed by its own name: train(X, y, weights_0_1, ...)
        return f"param:{name}"
    for suffix in ("_func", "_fn", "_function"):  # backward_prop(..., forward_prop_func): the wrapped forward_prop
        if name.endswith(suffix) and f"func:{name[:-len(suffix)]}" in values:
            return f"func:{name[:-len(suffix)]}"
    return next((role for role, names in ROLE_NAMES.items() if name in names), None)


def _bind(func: Callable[..., Any], values: Mapping[str, Any], classic: Sequence[str], what: str) -> Callable[[], Any]:
    """A call of ``func`` with each parameter bound by its name's role (or, for a parameter array, by its
    own name); two leading unnamed parameters are the data ``(X, y)``; counts of passes get 1 and a batch
    size the whole batch. The classic order when a required parameter's name says nothing."""
    params = positional_names(func)
    roles = [_role(n, values) for n, _ in params]
    if len(roles) > 2 and roles[0] is None and roles[1] is None and all(params[i][1] for i in (0, 1)) \
            and any(r is not None and r.startswith("param:") for r in roles[2:]):
        roles[:2] = ["X", "y"]
    if params and all(r is not None or not required for r, (_, required) in zip(roles, params)) and \
            all(r in values for r, (_, required) in zip(roles, params) if required and r is not None):
        kwargs = {n: values[r] for r, (n, _) in zip(roles, params) if r is not None and r in values}
        kwargs.update({n: 1 for n, _ in params if n in ONE_PASS})
        if "B" in values:
            kwargs.update({n: values["B"] for n, _ in params if n in WHOLE_BATCH})
        return lambda: func(**kwargs)
    if all(role in values for role in classic):
        return lambda: func(*(values[role] for role in classic))
    raise ModelInterfaceError(f"wrap({what}=...): cannot tell what to pass for the parameters "
                              f"{[n for n, _ in params]} of {getattr(func, '__name__', what)}; name them like "
                              f"the data (X, y), the parameters (params, or each by its key), the outputs (AL, out) "
                              f"or a cache, or use the classic order {what}({', '.join(classic)})")


@dataclass(frozen=True, eq=False)
class FunctionalModel:
    """Functions bundled by `wrap`; the kit never calls them with the caller's dict."""

    params: Mapping[str, np.ndarray]
    loss: Callable[..., Any] | None = None
    grads: Callable[..., Any] | None = None
    predict: Callable[..., Any] | None = None
    train: Callable[..., Any] | None = None
    forward: Callable[..., Any] | None = None
    name: str = "wrapped model"
    layers: Mapping[str, Sequence[str]] | None = None


def wrap(
    params: Mapping[str, np.ndarray],
    *,
    loss: Callable[..., Any] | None = None,
    grads: Callable[..., Any] | None = None,
    backward: Callable[..., Any] | None = None,
    forward: Callable[..., Any] | None = None,
    predict: Callable[..., Any] | None = None,
    train: Callable[..., Any] | None = None,
    name: str = "wrapped model",
    layers: Mapping[str, Sequence[str]] | None = None,
) -> FunctionalModel:
    """Bundle functional code into a model for `diagnose`, each function as you wrote it.

    Parameters
    ----------
    params
        Parameter name → float array. Never modified: the kit works on copies.
    loss
        The loss: ``compute_cost(AL, Y)`` of the outputs when ``forward`` is given, or ``loss(params, X, y)``.
    grads, backward
        The analytic gradient (the same thing; ``backward`` reads better for ``L_model_backward(AL, Y,
        caches)``), returning a dict keyed like ``params`` (``dW1``-style keys are accepted).
    forward
        ``forward(X, params)`` → outputs or ``(outputs, cache)``; outputs ``(B, K)`` or, for examples as
        columns, ``(K, B)``.
    predict
        ``predict(params, X)`` → outputs, when there is no ``forward``.
    train
        A training step ``train(params, X, y, lr)`` updating ``params`` in place (used when there is no
        gradient, and by the training checks).
    name
        How the report names the model.
    layers
        Which tensors form a layer, input to output: ``{"hidden": ["W1", "b1"], "gates": [...], ...}``.
        Default: by trailing number (``W2``, ``b2``), or by the name's last letter for recurrent names
        (``Wxh``, ``bh``; ``Wf``, ``bf``).
    """
    if not isinstance(params, Mapping) or not params:
        raise ModelInterfaceError(f"wrap(params=...) got a {type(params).__name__}; expected a non-empty dict of "
                                  f"arrays")
    bad = [k for k, v in params.items() if not is_param_array(v)]
    if bad:
        raise ModelInterfaceError(f"wrap(params=...): {bad} are not non-empty float arrays; expected name → float "
                                  "ndarray")
    gradient = grads if grads is not None else backward
    for label, func in (("loss", loss), ("grads", gradient), ("forward", forward), ("predict", predict),
                        ("train", train)):
        if func is not None and not callable(func):
            raise ModelInterfaceError(f"wrap({label}=...) got a {type(func).__name__}; expected a function")
    if gradient is None and train is None:
        raise ModelInterfaceError("wrap() needs grads=/backward= (the gradient) or train= (a training step); got "
                                  "neither")
    if loss is None and train is None and predict is None and forward is None:
        raise ModelInterfaceError("wrap() needs loss= (the loss, loss(params, X, y) or cost(outputs, y)), or the "
                                  "outputs (predict=/forward=) for a loss named in diagnose(..., loss=...), or a "
                                  "train= that returns the loss")
    if layers is not None:
        missing = sorted(set(params) - {p for group in layers.values() for p in group})
        if missing:
            raise ModelInterfaceError(f"wrap(layers=...) leaves out {missing}; expected every parameter in one layer")
    return FunctionalModel(params=params, loss=loss, grads=gradient, predict=predict, train=train, forward=forward,
                           name=name, layers=layers)


class FunctionalView(ModelView):
    """View over a `FunctionalModel`; the working dict is the kit's own."""

    style = "functions (wrap)"

    def __init__(self, model: FunctionalModel) -> None:
        self.model = model
        if model.layers is not None:
            self.layer_map = {p: layer for layer, group in model.layers.items() for p in group}
        self.working: dict[str, np.ndarray] = {k: np.array(v, dtype=np.float64) for k, v in model.params.items()}
        slots: list[Slot] = [ItemSlot(name=k, mapping=self.working, key=k) for k in self.working]
        super().__init__(self.working, slots, private=True, label=model.name)
        self.source_dtypes = {k: np.asarray(v).dtype for k, v in model.params.items()}
        self.own_gradient = model.grads is not None

    #: Set when ``predict`` returns class labels: there are no outputs to score.
    labels_only = False

    @property
    def can_predict(self) -> bool:
        return (self.model.predict is not None or self.model.forward is not None) and not self.labels_only

    @property
    def can_train(self) -> bool:
        return self.model.train is not None

    def _data(self, batch: Batch, **more: Any) -> dict[str, Any]:
        """What the user's functions may ask for by name: the data, the batch size, the parameter dict and
        each parameter by its own key."""
        values: dict[str, Any] = {"params": self.working, "X": batch.X, "y": batch.y, "B": batch.size, **more}
        values.update({f"param:{k}": v for k, v in self.working.items()})
        for func in (self.model.loss, self.model.grads, self.model.forward, self.model.predict, self.model.train):
            name = getattr(getattr(func, "func", func), "__name__", None)
            if func is not None and name:
                values[f"func:{name}"] = getattr(func, "func", func)
        return values

    def forward_parts(self, batch: Batch) -> dict[str, Any]:
        """What the wrapped forward returns, by role (output, cache, and a cost if it returns one)."""
        return self._values(batch)

    def _values(self, batch: Batch) -> dict[str, Any]:
        values = self._data(batch)
        if self.model.forward is not None:
            result = self._call("forward", _bind(self.model.forward, values, ("X", "params"), "forward"))
            values.update(_forward_parts(result))
        return values

    def _loss(self, batch: Batch) -> float:
        if self.model.loss is None:
            return self._loss_without_function(batch)
        values = self._values(batch)
        classic = ("output", "y") if self.model.forward is not None else ("params", "X", "y")
        return self._loss_value(self._call("loss", _bind(self.model.loss, values, classic, "loss")))

    def _loss_value(self, value: Any) -> float:
        if isinstance(value, tuple | list):  # forward_prop(...) -> (h, output, cost): the one number is the loss
            numbers = [v for v in value if _first_number(v) is not None and np.ndim(v) == 0]
            if len(numbers) == 1:
                value = numbers[0]
        return as_loss_value(value, f"{self.label} loss")

    def _loss_parts(self, batch: Batch) -> tuple[str, Callable[[], Any], Callable[[Any], float]] | None:
        if self.model.loss is None or self.model.forward is not None:
            return None  # no loss of its own, or two calls: the forward's, then the loss's
        return "loss", _bind(self.model.loss, self._data(batch), ("params", "X", "y"), "loss"), self._loss_value

    def _gradients(self, batch: Batch) -> dict[str, np.ndarray]:
        if self.model.grads is None:
            return self.inferred_gradients(batch, INFERENCE_LR)
        values = self._values(batch)
        classic = ("output", "y", "cache") if self.model.forward is not None else ("params", "X", "y")
        grads = self._call("grads", _bind(self.model.grads, values, classic, "grads"))
        return match_gradients(self._named(grads), self.shapes, f"{self.label} gradient")

    def _named(self, grads: Any) -> Any:
        """Gradient entries that name a parameter (``dW1`` → ``W1``); others (``dA1``) are left out."""
        if not isinstance(grads, Mapping):
            return grads
        names = set(self.working)
        out = {}
        for key, value in grads.items():
            target = gradient_key(names, str(key))
            if target is not None:
                out[target] = value
        return out if out else grads

    def _predict(self, batch: Batch) -> Any:
        if self.model.forward is not None:
            return self._values(batch)["output"]
        if self.model.predict is None:
            raise ModelInterfaceError(f"{self.label} was wrapped without predict= or forward=")
        return self._call("predict", _bind(self.model.predict, self._data(batch), ("params", "X"), "predict"))

    def _train(self, batch: Batch, lr: float) -> None:
        if self.model.train is None:
            raise ModelInterfaceError(f"{self.label} was wrapped without train=")
        self._call("train", _bind(self.model.train, self._data(batch, lr=lr), ("params", "X", "y", "lr"), "train"))

    def _loss_without_function(self, batch: Batch) -> float:
        """Wrapped without ``loss=``: the loss named in ``diagnose(..., loss=...)`` (or identified) of the
        outputs, else the number ``train`` returns when it takes a step of 0 (the loss before its update)."""
        if self.kit_loss is not None:
            return float(self.kit_loss(self.predict(batch), batch))
        if self.model.forward is not None and (cost := self._values(batch).get("cost")) is not None:
            return float(cost)  # forward_prop(...) -> (h, output, cost)
        if self.model.train is None:
            raise ModelInterfaceError(f"{self.label} was wrapped without loss=; pass loss= to wrap, or name a "
                                      "standard loss in diagnose(..., loss=...)")
        saved = self.snapshot()
        try:
            result = self._call("train", _bind(self.model.train, self._data(batch, lr=0.0),
                                               ("params", "X", "y", "lr"), "train"))
        finally:
            self.load(saved)
        value = _first_number(result)
        if value is None:
            raise ModelInterfaceError(f"{self.label} was wrapped without loss=, and train(...) returns a "
                                      f"{type(result).__name__}, not the loss; pass loss= to wrap or to diagnose")
        return value


def _first_number(result: Any) -> float | None:
    """The loss a training function returns: a number, or the first of a list of per-pass losses."""
    if isinstance(result, list | tuple):
        return next((v for v in (_first_number(item) for item in result) if v is not None), None)
    if isinstance(result, bool | np.bool_):
        return None
    try:
        array = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 and np.isfinite(array).all() else None


def _forward_parts(result: Any) -> dict[str, Any]:
    """A forward's result by role: ``out`` → output; ``(AL, caches)`` → output and cache; a tuple holding one
    number as well (``(h, output, cost)``) → that number is the cost, the last array the output."""
    if not isinstance(result, tuple):
        return {"output": result, "cache": None}
    numbers = [i for i, v in enumerate(result) if _is_scalar(v)]
    if len(numbers) == 1 and len(result) >= 2:
        rest = [v for i, v in enumerate(result) if i != numbers[0]]
        arrays = [v for v in rest if isinstance(v, np.ndarray)]
        output = arrays[-1] if arrays else rest[0]
        return {"output": output, "cache": rest[0] if len(rest) > 1 else None, "cost": result[numbers[0]]}
    return {"output": result[0], "cache": result[1] if len(result) > 1 else None}


def _is_scalar(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | float | np.integer | np.floating):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind == "f"
