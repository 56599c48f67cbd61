"""Roles a user object's methods play — outputs, loss, gradient, training step — and how to call each.

Methods are found by the names people give them and by what calling them returns, never by class:

* outputs: ``forward``, ``feedforward``, ``predict_proba``, ``predict``, ``forward_pass`` ...;
* loss: ``loss``, ``cost``, ``lossFun``, ``compute_loss``, ``calculate_loss``, ``evaluate`` ... returning a
  number (an integer count is an accuracy, not a loss), or the first number of a tuple;
* gradient: ``backward``, ``backprop``, ``gradients``, ``grads``, ``lossFun``, ``forward_backward`` ...
  returning a dict, ``(loss, dict)``, lists of arrays (``(nabla_b, nabla_w)``) or ``(loss, dW1, ..., h)``;
* training step: ``train``, ``step``, ``update``, ``update_mini_batch``, ``train_on_batch`` ... taking the
  learning rate as an argument, or from an optimizer object or attribute.

Each may take the whole batch in the user's layout, or one example at a time (``backprop(x, y)`` with
column vectors); per-example results are averaged over the batch. Required arguments the kit cannot know
get neutral values where their names say what they are (a regularisation strength ``lmbda`` gets 0).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .batch import Batch

__all__ = [
    "GRADIENT_NAMES",
    "LOSS_NAMES",
    "LR_NAMES",
    "OUTPUT_NAMES",
    "STEP_NAMES",
    "TARGET_NAMES",
    "Call",
    "argument_names",
    "argument_roles",
    "as_number",
    "composed_call",
    "flatten_arrays",
    "initial_state",
    "neutral_arguments",
    "positional_names",
]

OUTPUT_NAMES = ("forward", "feedforward", "predict_proba", "predict", "forward_pass", "forward_propagation",
                "forward_prop", "output", "query", "predict_output", "run", "infer", "inference")
LOSS_NAMES = ("loss", "cost", "lossFun", "loss_fun", "compute_loss", "calculate_loss", "get_loss", "objective",
              "compute_cost", "evaluate")
GRADIENT_NAMES = ("backward", "backprop", "gradients", "grads", "gradient", "compute_gradients", "lossFun",
                  "loss_fun", "forward_backward", "loss_and_grads", "backward_pass", "backward_propagation",
                  "compute_grads", "get_gradients")
STEP_NAMES = ("train", "step", "update", "update_mini_batch", "train_on_batch", "train_step", "sgd_step",
              "fit_batch", "update_params", "update_parameters", "update_network_parameters")
LR_NAMES = ("lr", "learning_rate", "learning_rate_init", "eta", "alpha", "step_size", "learningrate", "rate",
            "learn_rate")  # in order: sklearn's alpha is its L2 strength, next to its learning_rate_init
#: Parameter names that mark a targets argument (``mse(y_true, y_pred)``, ``backward_pass(y_train, output)``).
TARGET_NAMES = ("y", "Y", "y_true", "ytrue", "target", "targets", "t", "T", "labels", "label", "truth", "expected",
                "y_train", "Y_train", "y_batch", "Y_batch", "ys", "goal", "goals")
#: What a gradient method's parameters stand for, by their names: the inputs, the targets, the outputs
#: of the forward pass, or the cache it returned (``backward_pass(y_train, output)``, ``backward(cache)``).
ARGUMENT_ROLES: dict[str, tuple[str, ...]] = {
    "x": ("x", "X", "inputs", "input", "x_train", "X_train", "x_batch", "X_batch", "xs", "features"),
    "y": TARGET_NAMES,
    "out": ("output", "outputs", "out", "y_pred", "ypred", "y_hat", "yhat", "pred", "preds", "prediction",
            "predictions", "probs", "probabilities", "scores", "logits", "AL", "A_L", "A2", "A3", "Y_hat",
            "Yhat", "y_proba", "output_activations"),
    "cache": ("cache", "caches", "cached", "memory", "ctx", "tape", "saved"),
    "dout": ("grad", "dout", "d_out", "delta", "grad_output", "grad_out", "grad_outputs", "dvalues", "output_error",
             "output_gradient", "upstream", "upstream_grad", "dy", "d_y", "dL_dout", "dLdy", "dL_dy", "d_L_d_y",
             "d_L_d_out", "doutput", "dA", "dZ", "gradient", "error", "err", "d"),
    "lr": LR_NAMES,
}
#: Required arguments the kit gives a neutral value: regularisation strengths are 0 (with them at 0, a
#: count such as the training-set size ``n`` does not matter and gets the batch size).
NEUTRAL_ZERO = ("lmbda", "lambd", "lam", "lambda_", "reg", "reg_lambda", "l2", "weight_decay", "decay", "mu",
                "momentum")
NEUTRAL_COUNT = ("n", "N", "n_train", "num_examples", "m", "training_size", "batch_size")
#: A mode flag (nnfs's ``forward(X, training)``): on — the mode its backward differentiates (dropout masks and
#: batch statistics as in training; calls drawing from numpy's global generator are pinned to one draw).
NEUTRAL_TRUE = ("training", "is_training", "train_mode", "training_mode")
#: A recurrent state the caller passes in; it gets zeros, as a training loop starts each sequence.
NEUTRAL_STATE = ("h_prev", "hprev", "h0", "h_0", "h_init", "prev_h", "hidden", "initial_state", "state", "c_prev",
                 "cprev", "c0", "c_0", "prev_c", "hidden_state")
HIDDEN_SIZE_NAMES = ("hidden_size", "n_h", "hidden_dim", "n_hidden", "hidden_units", "num_hidden", "hsize", "H")


def positional_names(func: Callable[..., Any]) -> list[tuple[str, bool]]:
    """Positional parameters of ``func`` as (name, required), ``self`` excluded; empty if unknown."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return []
    return [(p.name, p.default is p.empty) for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def initial_state(target: Any) -> np.ndarray | None:
    """A zero recurrent state, (H, 1) as column-vector RNN code keeps it, when the object says its hidden
    size (``self.hidden_size``, ``self.n_h`` ...)."""
    for name in HIDDEN_SIZE_NAMES:
        size = getattr(target, name, None)
        if isinstance(size, int | np.integer) and not isinstance(size, bool) and size > 0:
            return np.zeros((int(size), 1))
    return None


def neutral_arguments(names: Sequence[tuple[str, bool]], batch_size: int,
                      state: np.ndarray | None = None) -> dict[str, Any] | None:
    """Values for required arguments beyond the data and the learning rate, or ``None`` if one of them
    cannot be given a neutral value. A recurrent state argument (``h_prev``) gets ``state`` (zeros)."""
    out: dict[str, Any] = {}
    for name, required in names:
        if not required:
            continue
        if name in NEUTRAL_ZERO:
            out[name] = 0.0
        elif name in NEUTRAL_COUNT:
            out[name] = batch_size
        elif name in NEUTRAL_STATE and state is not None:
            out[name] = state.copy()
        elif name in NEUTRAL_TRUE:
            out[name] = True
        else:
            return None
    return out


def as_number(value: Any) -> float | None:
    """A loss-like number: a float, a numpy float scalar or a one-element float array (``None`` for
    integers — counts, not losses — and for anything else)."""
    if isinstance(value, (bool | np.bool_, int | np.integer)):
        return None
    if hasattr(value, "item") and not isinstance(value, np.ndarray) and hasattr(value, "detach"):
        return None  # a torch tensor here is not a numpy model's loss
    try:
        array = np.asarray(value)
    except Exception:
        return None
    if array.size != 1 or array.dtype.kind != "f":
        return None
    return float(array.reshape(()))


def flatten_arrays(value: Any) -> list[np.ndarray] | None:
    """The arrays in a (nested) tuple/list, in order, skipping leading/trailing scalars; ``None`` if
    something else is inside."""
    out: list[np.ndarray] = []

    def walk(node: Any) -> bool:
        if isinstance(node, np.ndarray):
            out.append(node)
            return True
        if isinstance(node, list | tuple):
            return all(walk(item) for item in node)
        return as_number(node) is not None or node is None

    return out if walk(value) else None


@dataclass
class Call:
    """How one of the model's methods is called with a batch.

    ``per_example``: once per example with ``(x, y)`` (or ``x`` alone), results averaged; otherwise once
    with the batch in the user's layout. ``takes_y``: the targets are passed. ``fixed``: neutral values
    for further required arguments, by name. ``lr_arg``: the learning rate's parameter name (steps).
    """

    name: str
    method: Callable[..., Any]
    per_example: bool = False
    takes_y: bool = True
    fixed: dict[str, Any] = field(default_factory=dict)
    lr_arg: str | None = None
    #: How the report names a call the kit composed (``backward_pass(y, forward_pass(x))``).
    label: str = ""
    #: What a composed call feeds the method (`ARGUMENT_ROLES`); with ``"dout"`` its result is the input
    #: gradient, and the parameters' gradients are left on the object.
    feeds: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.label:
            return self.label
        args = ("x, y" if self.takes_y else "x") if self.per_example else ("X, y" if self.takes_y else "X")
        if self.lr_arg:
            args += f", {self.lr_arg}"
        args += "".join(f", {k}={_shown(v)}" for k, v in self.fixed.items())
        return f"{self.name}({args})"

    def _args(self, X: Any, y: Any, batch: Batch, lr: float | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args: tuple[Any, ...] = (X, y) if self.takes_y else (X,)
        if not self.per_example:
            full = batch.call_args()
            args = full if self.takes_y else full[:1]
        kwargs = dict(self.fixed)
        if self.lr_arg is not None:
            kwargs[self.lr_arg] = lr
        return args, kwargs

    def binds(self, batch: Batch) -> bool:
        """Whether the method's signature accepts this call's arguments (unknown signatures: assume so)."""
        x, t = batch.example(0) if self.per_example else (None, None)
        args, kwargs = self._args(x, t, batch, 0.1 if self.lr_arg else None)
        try:
            inspect.signature(self.method).bind(*args, **kwargs)
        except TypeError:
            return False
        except ValueError:
            return True
        return True

    def whole(self, batch: Batch, lr: float | None = None) -> Any:
        """One call with the whole batch (the model's own layout)."""
        args, kwargs = self._args(None, None, batch, lr)
        return self.method(*args, **kwargs)

    def bound(self, batch: Batch) -> Callable[[], Any]:
        """`whole` without a learning rate, its arguments built once when every call may share them (the
        batch's own read-only arrays); a layout that gets fresh copies per call (`Batch.call_args`) still
        gets them."""
        if batch.layout in ("pairs", "sequence") or batch.extra:
            return lambda: self.whole(batch)
        method = self.method
        args, kwargs = self._args(None, None, batch, None)
        if kwargs:
            return lambda: method(*args, **kwargs)
        return lambda: method(*args)

    def each(self, batch: Batch, lr: float | None = None) -> list[Any]:
        """One call per example, in order."""
        results = []
        for i in range(batch.size):
            x, t = batch.example(i)
            args, kwargs = self._args(np.array(x), np.array(t), batch, lr)
            results.append(self.method(*args, **kwargs))
        return results


def _shown(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"zeros{value.shape}" if not np.any(value) else f"<array {value.shape}>"
    return repr(value)


def argument_roles(method: Callable[..., Any]) -> tuple[str, ...] | None:
    """The role of each required parameter of a gradient method, when their names say it and at least one
    is the forward pass's outputs or cache (``backward_pass(y_train, output)`` → ``("y", "out")``), or the
    targets are all it takes (``backward(y)`` after ``forward(X)`` → ``("y",)``); ``None`` otherwise (the
    method is then called as ``(X, y)``)."""
    named = argument_names(method)
    return tuple(role for _, role in named) if named is not None else None


def argument_names(method: Callable[..., Any]) -> list[tuple[str, str]] | None:
    """(parameter name, role) for the parameters `argument_roles` describes: every required one, and an
    optional learning rate (``backprop(d_y, learn_rate=2e-2)`` updates the weights in place)."""
    out = []
    for name, required in positional_names(method):
        role = next((r for r, known in ARGUMENT_ROLES.items() if name in known), None)
        if required and role is None:
            return None
        if required or role == "lr":
            out.append((name, role or ""))
    roles = {role for _, role in out}
    # fed from the forward pass: it takes its outputs or cache, or only the targets (``backward(y)`` reads
    # what ``forward(X)`` left on the object)
    return out if {"out", "cache", "dout"} & roles or roles - {"lr"} == {"y"} else None


def _outputs_and_cache(result: Any) -> tuple[Any, Any]:
    """A forward result's outputs (its first array, or the result itself) and cache (its last item)."""
    if isinstance(result, tuple | list) and len(result) >= 2:
        first = next((item for item in result if isinstance(item, np.ndarray)), result[0])
        return first, result[-1]
    return result, None


def composed_call(name: str, method: Callable[..., Any], roles: tuple[str, ...], source: Call,
                  dloss: Callable[[Any, Any, bool], Any] | None = None, pool: Sequence[Any] = (),
                  step: float = 1e-4) -> Call:
    """``method`` fed from a forward call on the same data: ``backward_pass(y, forward_pass(x))``,
    ``backward(forward(inputs, targets, h)[-1])``, or ``backward(∂loss/∂outputs)`` with ``dloss`` the
    loss's derivative; its arguments are passed by name (`argument_names`). It takes the data as ``source``
    does, plus the targets. A method that also takes a
    learning rate (``backprop(d_y, learn_rate)``, updating the weights in place) is given ``step``, and
    its result is the gradient read off that update for the arrays in ``pool`` (slots), which are put back."""

    names = [name for name, _ in argument_names(method) or []]

    def run(X: Any, y: Any, *extra: Any) -> Any:
        data = (X, y, *extra) if source.takes_y else (X,)
        outputs, cache = _outputs_and_cache(source.method(*data, **source.fixed))
        values: dict[str, Any] = {"x": X, "y": y, "out": outputs, "cache": cache, "lr": step}
        if "dout" in roles and dloss is not None:
            values["dout"] = dloss(outputs, y, source.per_example)
        kwargs = {name: values[role] for name, role in zip(names, roles, strict=True)}
        if "lr" not in roles:
            return method(**kwargs)
        bound = {slot.name: slot.read() for slot in pool}
        saved = {n: np.array(a, dtype=np.float64) for n, a in bound.items() if isinstance(a, np.ndarray)}
        try:
            method(**kwargs)
            return {n: (saved[n] - np.asarray(slot.read(), dtype=np.float64)) / step for slot in pool
                    if (n := slot.name) in saved and np.shape(slot.read()) == saved[n].shape}
        finally:
            for slot in pool:
                if slot.name in saved:
                    if slot.read() is not bound[slot.name]:
                        slot.write(bound[slot.name])
                    np.copyto(bound[slot.name], saved[slot.name], casting="unsafe")

    made = source.describe()
    args = {"x": "x" if source.per_example else "X", "y": "y", "out": made, "cache": f"the cache of {made}",
            "dout": f"∂loss/∂{made}", "lr": "lr"}
    label = f"{name}({', '.join(args[r] for r in roles)})"
    if not {"out", "cache", "dout"} & set(roles):  # it reads what the forward pass left on the object
        label += f" after {made}"
    return Call(name, run, per_example=source.per_example, takes_y=True, label=label, feeds=roles)
