"""Layered models: a sequence of layers, each with its own backward, checked whole *and* one by one.

Two ways to write a layer are accepted without glue code:

* an object with ``forward(x)`` and ``backward(dout) -> dx`` that keeps its parameter gradients in a
  ``gradients``/``grads`` dict or in ``dW``-style attributes (numpy-ml and CS231n layer classes);
  its parameters are its ``params``/``parameters`` dict or its float array attributes;
* a CS231n function pair, ``gk.pair(affine_forward, affine_backward, w=W1, b=b1)`` with
  ``forward(x, *params) -> (out, cache)`` and ``backward(dout, cache) -> dx`` or ``(dx, *dparams)``.

The loss comes last: a layer object whose ``forward(x, y)`` returns the loss and ``backward()`` returns
dx, or a function ``loss(x, y) -> (loss, dx)`` (CS231n's ``softmax_loss``) given as ``loss=``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from .discovery import accepts, array_attributes, container_slots, is_param_array
from .slots import ItemSlot, Slot
from .view import ModelView, as_loss_value

__all__ = ["FunctionPair", "LayeredModel", "LayeredView", "layered", "pair"]


@dataclass(eq=False)
class FunctionPair:
    """A CS231n-style layer: ``forward(x, *params) -> (out, cache)``, ``backward(dout, cache)``."""

    forward_fn: Callable[..., Any]
    backward_fn: Callable[..., Any]
    params: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            self.name = getattr(self.forward_fn, "__name__", "layer").removesuffix("_forward")


def pair(forward: Callable[..., Any], backward: Callable[..., Any], /, **params: np.ndarray) -> FunctionPair:
    """A layer from a CS231n function pair; ``params`` are passed to ``forward`` positionally, in order."""
    if not callable(forward) or not callable(backward):
        raise ModelInterfaceError("pair(forward, backward, **params) needs two functions")
    for key, value in params.items():
        if not is_param_array(value):
            raise ModelInterfaceError(f"pair(...): parameter {key!r} is not a non-empty float array")
    return FunctionPair(forward, backward, dict(params))


@dataclass(eq=False)
class LayeredModel:
    """An ordered sequence of layers and a loss (see the module docstring)."""

    layers: list[Any]
    loss: Any = None


def layered(layers: Sequence[Any], *, loss: Any = None) -> LayeredModel:
    """Bundle layers (input to output) and a loss into a model `diagnose` checks layer by layer.

    Without ``loss=``, the last layer must be a loss layer: ``forward(x, y)`` → loss, ``backward()`` → dx.
    """
    layers = list(layers)
    if not layers:
        raise ModelInterfaceError("layered([...]) got no layers")
    if loss is None:
        last = layers[-1]
        if not (hasattr(last, "forward") and accepts(last.forward, 2)):
            raise ModelInterfaceError(
                f"the last layer ({type(last).__name__}) is not a loss layer with forward(x, y); pass loss= "
                f"(a layer with forward(x, y) and backward(), or a function loss(x, y) -> (loss, dx))"
            )
        loss, layers = last, layers[:-1]
    for i, layer in enumerate(layers):
        if not isinstance(layer, FunctionPair) and not (callable(getattr(layer, "forward", None))
                                                         and callable(getattr(layer, "backward", None))):
            raise ModelInterfaceError(
                f"layer {i} ({type(layer).__name__}) has no forward(x)/backward(dout); expected a layer object or "
                f"gradcheck_kit.pair(forward_fn, backward_fn, **params)"
            )
    return LayeredModel(layers, loss)


def is_layer_sequence(model: Any) -> bool:
    """A list/tuple whose items all look like layers (auto-wrapped by `layered`)."""
    return (isinstance(model, (list, tuple)) and len(model) >= 2
            and all(isinstance(m, FunctionPair) or (hasattr(m, "forward") and hasattr(m, "backward")) for m in model))


# -- one layer, uniform ---------------------------------------------------------------------------
_GRAD_STORES = ("gradients", "grads", "dparams")


class Layer:
    """Uniform access to one layer of a private copy: forward, backward, its parameter slots."""

    def __init__(self, index: int, obj: Any) -> None:
        self.obj = obj
        kind = obj.name if isinstance(obj, FunctionPair) else type(obj).__name__
        self.id = f"{index}:{kind}"
        self.slots: dict[str, Slot] = {}
        if isinstance(obj, FunctionPair):
            for key in obj.params:
                self.slots[key] = ItemSlot(name=f"{self.id}.{key}", mapping=obj.params, key=key)
        else:
            found = container_slots(obj)
            slots = found[1] if found else array_attributes(obj)
            for slot in slots:
                local = slot.name
                slot.name = f"{self.id}.{local}"
                self.slots[local] = slot
        self._cache: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if isinstance(self.obj, FunctionPair):
            result = self.obj.forward_fn(x, *(self.obj.params[k] for k in self.obj.params))
            if not (isinstance(result, tuple) and len(result) == 2):
                raise ModelInterfaceError(f"{self.id}: forward returned a {type(result).__name__}; expected (out, "
                                          "cache)")
            out, self._cache = result
            return np.asarray(out)
        return np.asarray(self.obj.forward(x))

    def backward(self, dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Input gradient and parameter gradients (by local name) for upstream gradient ``dout``."""
        if isinstance(self.obj, FunctionPair):
            result = self.obj.backward_fn(dout, self._cache)
            parts = list(result) if isinstance(result, tuple) else [result]
            names = list(self.obj.params)
            if len(parts) != 1 + len(names):
                raise ModelInterfaceError(
                    f"{self.id}: backward returned {len(parts)} value(s); expected dx plus one gradient per parameter "
                    f"({', '.join(names) or 'none'})"
                )
            grads = {k: np.asarray(g, dtype=np.float64) for k, g in zip(names, parts[1:])}
            return np.asarray(parts[0], dtype=np.float64), grads
        result = self.obj.backward(dout)
        dx = result[0] if isinstance(result, tuple) else result
        return np.asarray(dx, dtype=np.float64), self._param_grads()

    def _param_grads(self) -> dict[str, np.ndarray]:
        grads: dict[str, np.ndarray] = {}
        store: Mapping[str, Any] = next(
            (getattr(self.obj, a) for a in _GRAD_STORES if isinstance(getattr(self.obj, a, None), Mapping)), {}
        )
        for local in self.slots:
            key = local.split(".")[-1]
            for candidate in (
                store.get(local),
                store.get(key),
                store.get(f"d{key}"),
                getattr(self.obj, f"d{key}", None),
                getattr(self.obj, f"grad_{key}", None),
                getattr(self.obj, f"{key}_grad", None),
            ):
                if candidate is not None:
                    grads[local] = np.array(candidate, dtype=np.float64)
                    break
            else:
                raise ModelInterfaceError(
                    f"{self.id}: after backward() no gradient for parameter {key!r} was found; expected it in "
                    f"self.gradients / self.grads (key {key!r} or 'd{key}') or as attribute d{key}"
                )
        return grads


class LossLayer:
    """The loss: a layer object (``forward(x, y)``, ``backward()``) or a function ``(x, y) -> (loss, dx)``."""

    def __init__(self, index: int, obj: Any) -> None:
        self.obj = obj
        self.id = f"{index}:{getattr(obj, '__name__', None) or type(obj).__name__}"
        self._dx: np.ndarray | None = None

    def forward(self, x: np.ndarray, y: np.ndarray) -> float:
        if hasattr(self.obj, "forward"):
            return as_loss_value(self.obj.forward(x, y), f"{self.id}.forward(x, y)")
        result = self.obj(x, y)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ModelInterfaceError(f"{self.id}(x, y) returned a {type(result).__name__}; expected (loss, dx)")
        self._dx = np.asarray(result[1], dtype=np.float64)
        return as_loss_value(result[0], f"{self.id}(x, y)[0]")

    def backward(self) -> np.ndarray:
        if hasattr(self.obj, "backward"):
            result = self.obj.backward()
            return np.asarray(result[0] if isinstance(result, tuple) else result, dtype=np.float64)
        if self._dx is None:
            raise ModelInterfaceError(f"{self.id}: backward before forward")
        return self._dx


class LayeredView(ModelView):
    """The whole network through its layers (forward chain, loss, backward chain)."""

    style = "layered model"
    layered = True

    def __init__(self, target: LayeredModel, *, private: bool, label: str) -> None:
        self.layers = [Layer(i, obj) for i, obj in enumerate(target.layers)]
        self.loss_layer = LossLayer(len(self.layers), target.loss)
        slots = [slot for layer in self.layers for slot in layer.slots.values()]
        super().__init__(target, slots, private=private, label=label)
        self._owner = {slot.name: (layer, local) for layer in self.layers for local, slot in layer.slots.items()}
        self._prefix: tuple[np.ndarray, int, np.ndarray] | None = None

    def focus(self, name: str | None, X: np.ndarray | None = None) -> None:
        """While parameter ``name`` alone is perturbed, evaluate the loss from its layer onward: the
        layers before it see unchanged parameters, so their output on ``X`` is computed once."""
        if name is None or X is None or name not in self._owner:
            self._prefix = None
            return
        index = self.layers.index(self._owner[name][0])
        acts = self.activations(X)
        self._prefix = (X, index, acts[index])

    @property
    def can_predict(self) -> bool:
        return True

    # -- one layer at a time (for the isolated checks) -------------------------------------------
    def layer_forward(self, layer: Layer, x: np.ndarray) -> np.ndarray:
        return self._call(f"{layer.id}.forward", layer.forward, x)

    def layer_backward(self, layer: Layer, dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return self._call(f"{layer.id}.backward", layer.backward, dout)

    def loss_forward(self, x: np.ndarray, y: np.ndarray) -> float:
        return self._call(f"{self.loss_layer.id}.forward", self.loss_layer.forward, x, y)

    def loss_backward(self) -> np.ndarray:
        return self._call(f"{self.loss_layer.id}.backward", self.loss_layer.backward)

    def activations(self, X: np.ndarray) -> list[np.ndarray]:
        """Inputs of every layer and the final output: ``[X, a1, ..., out]``."""
        outs = [X]
        for layer in self.layers:
            outs.append(self._call(f"{layer.id}.forward", layer.forward, outs[-1]))
        return outs

    def _predict(self, X: np.ndarray) -> Any:
        return self.activations(X)[-1]

    def _loss(self, X: np.ndarray, y: np.ndarray) -> float:
        if self._prefix is not None and self._prefix[0] is X:
            _, start, out = self._prefix
            for layer in self.layers[start:]:
                out = self._call(f"{layer.id}.forward", layer.forward, out)
        else:
            out = self.activations(X)[-1]
        return self._call(f"{self.loss_layer.id}.forward", self.loss_layer.forward, out, y)

    def _gradients(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        self._loss(X, y)
        grad = self._call(f"{self.loss_layer.id}.backward", self.loss_layer.backward)
        grads: dict[str, np.ndarray] = {}
        for layer in reversed(self.layers):
            grad, local = self._call(f"{layer.id}.backward", layer.backward, grad)
            for key, g in local.items():
                name = layer.slots[key].name
                if g.shape != self.params[name].shape:
                    raise ModelInterfaceError(
                        f"{layer.id}: gradient of {key!r} has shape {g.shape}; expected {self.params[name].shape}"
                    )
                grads[name] = g
        return grads
