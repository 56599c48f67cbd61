"""Layered models: a sequence of layers, each with its own backward, checked whole *and* one by one.

Layers are read as people write them, without glue:

* objects with ``forward(x)`` and ``backward(dout)``: returning their results, or storing them
  (``self.output``, ``self.dinputs``, the nnfs way); keeping parameter gradients in a ``grads`` dict or
  beside each parameter (``dW``, ``dweights``, ``grad_W``); accumulating gradients and caches until
  ``zero_grad()`` (called before every backward); or ``backward(dout, learning_rate)`` updating their own
  weights (the parameter gradient is then read off that update on the private copy);
* layers that take one example at a time as a column vector (``Dense.forward(x)`` with ``x`` (D, 1)):
  the kit runs them example by example and averages;
* CS231n function pairs, ``gk.pair(affine_forward, affine_backward, w=W1, b=b1)``, with constant
  arguments and a name: ``gk.pair(conv_forward_naive, conv_backward_naive, w=W, b=b,
  conv_param={"stride": 1, "pad": 1}, name="conv1")``.

The loss comes last: a loss layer (``forward(x, y)`` → loss or per-sample losses, or ``calculate``;
``backward()`` or ``backward(dvalues, y_true)``, its regularisation from ``regularization_loss(layer)``), a
function ``loss(x, y) -> (loss, dx)`` (CS231n's ``softmax_loss``), or the user's own loss and its
derivative, ``loss=(mse, mse_prime)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GradcheckError, ModelInterfaceError
from .batch import Batch
from .discovery import accepts, container_slots, find_arrays, is_param_array
from .kit_loss import KitLoss, loss_from_spec
from .roles import LR_NAMES, positional_names
from .slots import ItemSlot, Slot
from .stored import ZERO_NAMES
from .view import INFERENCE_LR, ModelView, as_loss_value, gradient_key

__all__ = ["FunctionPair", "LayeredModel", "LayeredView", "is_layer_sequence", "layered", "pair"]

#: Where a layer that stores its input gradient keeps it.
DX_NAMES = ("dinputs", "dinput", "dX", "dx", "grad_input", "input_grad", "d_input", "dA_prev", "delta")
#: Where a layer that stores its output keeps it.
OUTPUT_NAMES = ("output", "out", "A", "a", "outputs")
_GRAD_STORES = ("gradients", "grads", "dparams")


@dataclass(eq=False)
class FunctionPair:
    """A CS231n-style layer: ``forward(x, *args) -> (out, cache)``, ``backward(dout, cache)``.

    ``args`` are passed positionally in the order given; the float arrays among them are parameters
    (``backward`` returns ``dx`` and one gradient per parameter), the rest constants.
    """

    forward_fn: Callable[..., Any]
    backward_fn: Callable[..., Any]
    args: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            self.name = getattr(self.forward_fn, "__name__", "layer").removesuffix("_forward")

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.args.items() if is_param_array(v)}


def pair(forward: Callable[..., Any], backward: Callable[..., Any], /, *, name: str = "", **args: Any) -> FunctionPair:
    """A layer from a CS231n function pair; ``args`` go to ``forward`` positionally, in order — float
    arrays are its parameters, anything else (``conv_param={...}``, ``bn_param``) a constant."""
    if not callable(forward) or not callable(backward):
        raise ModelInterfaceError("pair(forward, backward, **args) needs two functions")
    for key, value in args.items():
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuc":
            raise ModelInterfaceError(f"pair(...): parameter {key!r} has dtype {value.dtype}; expected a float array")
    return FunctionPair(forward, backward, dict(args), name)


@dataclass(eq=False)
class LayeredModel:
    """An ordered sequence of layers and a loss (see the module docstring)."""

    layers: list[Any]
    loss: Any = None


#: Names layer objects give their forward and backward methods (``forward_propagation(input)``,
#: ``backward_propagation(output_error, learning_rate)``).
FORWARD_NAMES = ("forward", "forward_propagation", "forward_prop", "fprop", "forward_pass")
BACKWARD_NAMES = ("backward", "backward_propagation", "backward_prop", "bprop", "backward_pass", "backprop")


def forward_method(obj: Any) -> Callable[..., Any] | None:
    """A layer object's forward method, by any of `FORWARD_NAMES`."""
    return next((m for m in (getattr(obj, n, None) for n in FORWARD_NAMES) if callable(m)), None)


def backward_method(obj: Any) -> Callable[..., Any] | None:
    """A layer object's backward method, by any of `BACKWARD_NAMES`."""
    return next((m for m in (getattr(obj, n, None) for n in BACKWARD_NAMES) if callable(m)), None)


def is_layer(obj: Any) -> bool:
    return isinstance(obj, FunctionPair) or (forward_method(obj) is not None and backward_method(obj) is not None)


def _missing(*args: Any) -> Any:
    raise ModelInterfaceError("a function pair is called through its functions, not forward/backward")


def _is_loss_layer(obj: Any) -> bool:
    return (hasattr(obj, "forward") and accepts(obj.forward, 2)) or callable(getattr(obj, "calculate", None))


def layered(layers: Sequence[Any], *, loss: Any = None) -> LayeredModel:
    """Bundle layers (input to output) and a loss into a model `diagnose` checks layer by layer.

    Without ``loss=``, the last layer must be a loss layer: ``forward(x, y)`` → loss, ``backward()`` → dx.
    ``loss=`` takes a loss layer, a function ``loss(x, y) -> (loss, dx)``, a standard loss name, or your own
    ``(loss, loss_derivative)`` functions.
    """
    layers = list(layers)
    if not layers:
        raise ModelInterfaceError("layered([...]) got no layers")
    if loss is None:
        last = layers[-1]
        if not _is_loss_layer(last):
            raise ModelInterfaceError(
                f"the last layer ({type(last).__name__}) is not a loss layer with forward(x, y); pass loss= "
                f"(a loss layer, a function loss(x, y) -> (loss, dx), or your (loss, loss_derivative) functions)"
            )
        loss, layers = last, layers[:-1]
    elif isinstance(loss, str) or (isinstance(loss, tuple) and len(loss) == 2):
        loss = loss_from_spec(loss)
    for i, layer in enumerate(layers):
        if not is_layer(layer):
            raise ModelInterfaceError(
                f"layer {i} ({type(layer).__name__}) has no forward(x)/backward(dout); expected a layer object or "
                f"gradcheck_kit.pair(forward_fn, backward_fn, **params)"
            )
    return LayeredModel(layers, loss)


def is_layer_sequence(model: Any) -> bool:
    """A list/tuple whose items all look like layers (auto-wrapped by `layered`)."""
    return isinstance(model, list | tuple) and len(model) >= 2 and all(is_layer(m) for m in model)


def _stored(obj: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if isinstance(value, np.ndarray):
            return value
    return None


class Layer:
    """Uniform access to one layer of a private copy: forward, backward, its parameter slots."""

    def __init__(self, index: int, obj: Any) -> None:
        self.obj = obj
        kind = obj.name if isinstance(obj, FunctionPair) else type(obj).__name__
        self.id = f"{index}:{kind}"
        #: The first layer's input gradient feeds nothing; code often skips it (returns None).
        self.first = index == 0
        #: A first layer's dx of the wrong shape: (its shape, the input's) — a warning, not a stop.
        self.dx_problem: tuple[tuple[int, ...], tuple[int, ...]] | None = None
        self.slots: dict[str, Slot] = {}
        if isinstance(obj, FunctionPair):
            for key in obj.params:
                self.slots[key] = ItemSlot(name=f"{self.id}.{key}", mapping=obj.args, key=key)
        else:
            found = container_slots(obj)
            for slot in found[1] if found else find_arrays(obj, depth=1):
                local = slot.name
                slot.name = f"{self.id}.{local}"
                self.slots[local] = slot
        self._cache: Any = None
        fwd, bwd = forward_method(obj), backward_method(obj)
        if not isinstance(obj, FunctionPair) and (fwd is None or bwd is None):
            raise ModelInterfaceError(f"{self.id} has no forward(x)/backward(dout) (looked for "
                                      f"{'/'.join(FORWARD_NAMES)} and {'/'.join(BACKWARD_NAMES)})")
        self._forward_fn: Callable[..., Any] = fwd or _missing
        self._backward_fn: Callable[..., Any] = bwd or _missing
        params = positional_names(bwd) if bwd is not None else []
        #: backward(dout, learning_rate) updates the weights itself: gradients are read off that update
        self.updates_itself = len(params) == 2 and (params[1][0] in LR_NAMES or "rate" in params[1][0])
        self.zero = next((getattr(obj, n) for n in ZERO_NAMES if callable(getattr(obj, n, None))), None)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if isinstance(self.obj, FunctionPair):
            result = self.obj.forward_fn(x, *self.obj.args.values())
            if not (isinstance(result, tuple) and len(result) == 2):
                raise ModelInterfaceError(f"{self.id}: forward returned a {type(result).__name__}; expected (out, "
                                          "cache)")
            out, self._cache = result
            return np.asarray(out)
        result = self._forward_fn(x)
        if result is None:
            result = _stored(self.obj, OUTPUT_NAMES)
            if result is None:
                raise ModelInterfaceError(f"{self.id}: forward(x) returned None and stored no output (looked for "
                                          f"self.{', self.'.join(OUTPUT_NAMES)})")
        return np.asarray(result[0] if isinstance(result, tuple) else result)

    def backward(self, dout: np.ndarray, x: np.ndarray) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Input gradient and parameter gradients (by local name) for upstream gradient ``dout``; ``x`` is
        the input the last forward saw (a returned ``dx`` must have its shape). The first layer may
        return no ``dx`` (``None``): nothing uses it."""
        if isinstance(self.obj, FunctionPair):
            dx, grads = self._pair_backward(dout)
        elif self.updates_itself:
            dx, grads = self._self_updating_backward(dout)
        else:
            result = self._backward_fn(dout)
            if result is None:
                result = _stored(self.obj, DX_NAMES)
            dx = result[0] if isinstance(result, tuple) else result
            grads = self._returned_grads(result) or self._param_grads()
        if dx is None and self.first:
            return None, grads
        if dx is None:
            raise ModelInterfaceError(f"{self.id}: backward(dout) returned None and stored no input gradient (looked "
                                      f"for self.{', self.'.join(DX_NAMES)})")
        dx = np.asarray(dx, dtype=np.float64)
        if dx.shape != np.shape(x):
            if self.first:  # nothing uses it here; said as a warning, the parameters are still checked
                self.dx_problem = (dx.shape, np.shape(x))
                return None, grads
            raise ModelInterfaceError(f"{self.id}: backward returned dx of shape {dx.shape}, but the layer's input x "
                                      f"has shape {np.shape(x)}; expected dx with the shape of x")
        return dx, grads

    def _returned_grads(self, result: Any) -> dict[str, np.ndarray]:
        """Parameter gradients a backward returns after dx: ``(dx, {"W": dW, ...})`` or ``(dx, dW, db)`` in
        the parameters' order (matched by shape)."""
        if not isinstance(result, tuple) or len(result) < 2:
            return {}
        rest = result[1:]
        if len(rest) == 1 and isinstance(rest[0], Mapping):
            keyed = {gradient_key(set(self.slots), str(k)): v for k, v in rest[0].items()}
            return {k: np.array(v, dtype=np.float64) for k, v in keyed.items() if k is not None}
        arrays = [np.asarray(a) for a in rest if isinstance(a, np.ndarray)]
        locals_ = list(self.slots)
        if len(arrays) == len(locals_) and all(a.shape == np.shape(self.slots[k].read())
                                               for a, k in zip(arrays, locals_, strict=True)):
            return {k: np.array(a, dtype=np.float64) for a, k in zip(arrays, locals_, strict=True)}
        return {}

    def _pair_backward(self, dout: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
        result = self.obj.backward_fn(dout, self._cache)
        parts = list(result) if isinstance(result, tuple) else [result]
        names = list(self.obj.params)
        if len(parts) != 1 + len(names):
            raise ModelInterfaceError(
                f"{self.id}: backward returned {len(parts)} value(s); expected dx plus one gradient per parameter "
                f"({', '.join(names) or 'none'})"
            )
        return parts[0], {k: np.asarray(g, dtype=np.float64) for k, g in zip(names, parts[1:])}

    def _self_updating_backward(self, dout: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
        """``backward(dout, lr)`` updates the weights: run it with a small rate on the private copy, read
        each parameter's gradient off the change, and put the weights back."""
        bound = {k: s.read() for k, s in self.slots.items()}
        before = {k: np.array(a, dtype=np.float64) for k, a in bound.items()}
        saved = {k: np.array(a, copy=True) for k, a in bound.items()}
        try:
            dx = self._backward_fn(dout, INFERENCE_LR)
            grads = {k: (before[k] - np.asarray(s.read(), dtype=np.float64)) / INFERENCE_LR
                     for k, s in self.slots.items()}
        finally:
            for k, s in self.slots.items():  # the same arrays back in place (`self.W = self.W - lr * dW`
                if s.read() is not bound[k]:  # rebinds: the kit keeps perturbing the array it bound)
                    s.write(bound[k])
                np.copyto(bound[k], saved[k])
        return dx, grads

    def _param_grads(self) -> dict[str, np.ndarray]:
        grads: dict[str, np.ndarray] = {}
        store: Mapping[str, Any] = next(
            (getattr(self.obj, a) for a in _GRAD_STORES if isinstance(getattr(self.obj, a, None), Mapping)), {}
        )
        for local in self.slots:
            key = local.split(".")[-1]
            for candidate in (store.get(local), store.get(key), store.get(f"d{key}"),
                              *(getattr(self.obj, n, None) for n in (f"d{key}", f"grad_{key}", f"{key}_grad",
                                                                      f"{key}_diff", f"d_{key}"))):
                if candidate is not None:
                    grads[local] = np.array(candidate, dtype=np.float64)
                    break
            else:
                raise ModelInterfaceError(
                    f"{self.id}: after backward() no gradient for parameter {key!r} was found; expected it in "
                    f"self.gradients / self.grads (key {key!r} or 'd{key}') or as attribute d{key} or grad_{key}"
                )
        return grads


class LossLayer:
    """The loss: a layer object, a function ``(x, y) -> (loss, dx)``, or a `KitLoss` with a derivative."""

    def __init__(self, index: int, obj: Any, layers: Sequence[Layer]) -> None:
        self.obj = obj
        label = obj.name if isinstance(obj, KitLoss) else getattr(obj, "__name__", None) or type(obj).__name__
        self.id = f"{index}:{label}"
        self._dx: np.ndarray | None = None
        self._x: np.ndarray | None = None
        self._y: np.ndarray | None = None
        #: The layers take one example at a time: a standard loss sees its outputs as one row.
        self.one_example = False
        self.layers = layers
        regularizer = getattr(obj, "regularization_loss", None) or getattr(getattr(obj, "loss", None),
                                                                            "regularization_loss", None)
        self.regularizer = regularizer if callable(regularizer) else None

    def _regularization(self) -> float:
        return sum(self.penalty(layer) for layer in self.layers)

    def penalty(self, layer: Layer) -> float:
        """The loss's regularisation term for one layer (``regularization_loss(layer)``), 0 without one."""
        if self.regularizer is None:
            return 0.0
        try:
            return float(self.regularizer(layer.obj))
        except Exception:
            return 0.0  # layers without weights to regularise

    def forward(self, x: np.ndarray, y: np.ndarray) -> float:
        self._x, self._y = x, y
        if isinstance(self.obj, KitLoss):
            if self.obj.prime is None and self.obj.standard:
                rows, targets = self._as_rows(x, y)  # a standard loss of the outputs, as rows
                return self.obj.value(rows, targets)
            if self.obj.prime is None:
                raise ModelInterfaceError(f"{self.id}: a list of layers needs the loss's derivative too: pass "
                                          f"loss=(loss, loss_derivative), or a standard loss by name")
            return self.obj.value(x, y)
        if hasattr(self.obj, "forward") or hasattr(self.obj, "calculate"):
            method = self.obj.calculate if callable(getattr(self.obj, "calculate", None)) else self.obj.forward
            value = np.asarray(method(x, y), dtype=np.float64)
            return as_loss_value(value.mean() if value.size > 1 else value, f"{self.id}.forward(x, y)") \
                + self._regularization()
        result = self.obj(x, y)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ModelInterfaceError(f"{self.id}(x, y) returned a {type(result).__name__}; expected (loss, dx)")
        self._dx = np.asarray(result[1], dtype=np.float64)
        return as_loss_value(result[0], f"{self.id}(x, y)[0]")

    def _as_rows(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Outputs as (B, K) rows (one example's as one row) and targets as matching rows (labels one-hot)."""
        out = np.asarray(x, dtype=np.float64)
        rows = out.reshape(1, -1) if self.one_example else out.reshape(out.shape[0], -1)
        t = np.asarray(y)
        if t.dtype.kind in "iu" and t.size == rows.shape[0] and rows.shape[1] > 1:
            t = np.eye(rows.shape[1])[t.reshape(-1)]
        return rows, np.asarray(t, dtype=np.float64).reshape(rows.shape)

    def backward(self) -> np.ndarray:
        if isinstance(self.obj, KitLoss) and self.obj.prime is None and self._x is not None:
            rows, targets = self._as_rows(self._x, self._y)
            grad = self.obj.gradient(rows, targets)
            if grad is None:
                raise ModelInterfaceError(f"{self.id}: the kit has no derivative for this loss; pass "
                                          f"loss=(loss, loss_derivative)")
            return grad.reshape(np.shape(self._x))
        if isinstance(self.obj, KitLoss) and self.obj.prime is not None:
            return np.asarray(self.obj.prime(self._x, self._y), dtype=np.float64)  # type: ignore[arg-type]
        if hasattr(self.obj, "backward"):
            arity = len(positional_names(self.obj.backward))
            if arity >= 2:  # nnfs: backward(dvalues, y_true), dvalues = what the loss was computed on
                # (a combined softmax + loss keeps its softmax output; a plain loss may keep its per-sample
                # losses there, which are not what its backward takes)
                dvalues = _stored(self.obj, OUTPUT_NAMES)
                if dvalues is None or self._x is None or dvalues.shape != np.shape(self._x):
                    dvalues = self._x
                result = self.obj.backward(dvalues, self._y)
            else:
                result = self.obj.backward()
            if result is None:
                result = _stored(self.obj, DX_NAMES)
            return np.asarray(result[0] if isinstance(result, tuple) else result, dtype=np.float64)
        if self._dx is None:
            raise ModelInterfaceError(f"{self.id}: backward before forward")
        return self._dx


class LayeredView(ModelView):
    """The whole network through its layers (forward chain, loss, backward chain).

    ``per_example``: the layers take one example at a time (column vectors); the loss is then the mean
    over the examples and so is each gradient.
    """

    style = "layered model"
    layered = True

    def __init__(self, target: LayeredModel, *, private: bool, label: str) -> None:
        self.layers = [Layer(i, obj) for i, obj in enumerate(target.layers)]
        self.loss_layer = LossLayer(len(self.layers), target.loss, self.layers)
        slots = [slot for layer in self.layers for slot in layer.slots.values()]
        super().__init__(target, slots, private=private, label=label)
        self._owner = {slot.name: (layer, local) for layer in self.layers for local, slot in layer.slots.items()}
        self._prefix: tuple[Batch, int, np.ndarray] | None = None
        self.per_example = False

    def decide_layout(self, batch: Batch) -> None:
        """Run the layers on the whole batch; one example at a time if that fails, loses the batch axis,
        the backward pass cannot take the batch (stacked column vectors that ``@`` broadcasts forward but
        not back), or — for stacked column vectors only — the examples get mixed (a softmax normalised over
        the whole array). Rows may be mixed on purpose (batch norm)."""
        self.per_example = False
        whole = batch.layout == "rows" and self._whole_batch_works(batch)
        for layer in self.layers:
            layer.dx_problem = None  # what the trial on the whole batch saw says nothing
        self.per_example = not whole and batch.layout != "columns"
        self.loss_layer.one_example = self.per_example
        if self.per_example:
            self.notes.add("the layers take one example at a time: the loss and each gradient are means over the "
                           "examples")
        self._drop_non_parameters(batch)

    def _drop_non_parameters(self, batch: Batch) -> None:
        """A layer's float arrays that do not change its output are not parameters: cached inputs and
        outputs, stored or pre-allocated gradients, optimizer buffers. They are left out, and said."""
        dropped = []
        try:  # every example's input (a parameter may not matter for one: weights on an all-zero input)
            runs = [self.activations(batch.take(slice(i, i + 1)) if self.per_example else batch)
                    for i in range(min(batch.size, 8) if self.per_example else 1)]
        except GradcheckError:
            return
        rng = np.random.default_rng(0)
        for i, layer in enumerate(self.layers):
            for local, slot in list(layer.slots.items()):
                if slot.name in self.params and not any(
                        self._moves_output(layer, acts[i], self.params[slot.name], rng) for acts in runs):
                    del layer.slots[local]
                    del self._owner[slot.name]
                    self.unbind(slot.name)
                    dropped.append(slot.name)
        if dropped:
            kinds = ", ".join(dict.fromkeys(name.split(".", 1)[-1] for name in dropped))
            where = len({name.split(".", 1)[0] for name in dropped})
            self.notes.add(f"arrays the layers keep but their outputs do not depend on (caches, stored gradients) "
                           f"are not parameters: {kinds} (in {where} layer{'s' if where > 1 else ''})")

    def _moves_output(self, layer: Layer, x: Any, array: np.ndarray, rng: np.random.Generator) -> bool:
        saved = array.copy()
        try:
            reference = np.array(self.layer_forward(layer, x), dtype=np.float64)
            array += 1e-3 * max(1.0, float(np.sqrt(np.mean(saved**2)))) * rng.standard_normal(array.shape)
            moved = np.array(self.layer_forward(layer, x), dtype=np.float64)
        except GradcheckError:
            return True
        finally:
            np.copyto(array, saved)
        return reference.shape != moved.shape or not np.array_equal(reference, moved)

    def _whole_batch_works(self, batch: Batch) -> bool:
        before = self.snapshot()
        try:
            return self._forward_takes_batch(batch) and self._backward_takes_batch(batch)
        finally:
            self.load(before)

    def _forward_takes_batch(self, batch: Batch) -> bool:
        try:
            out = np.asarray(self._chain(batch.X))
            one = np.asarray(self._chain(batch.take(slice(0, 1)).X))
        except Exception:
            return False
        if out.ndim < 1 or out.shape[0] != batch.size or one.shape[:1] != (1,) or one.shape[1:] != out.shape[1:]:
            return False
        X = np.asarray(batch.X)
        if not (X.ndim >= 3 and X.shape[-1] == 1):
            return True  # rows: a layer may mix the examples on purpose (batch norm)
        # stacked column vectors: code written for one (D, 1) example at a time must not mix them (a
        # softmax normalised over the whole array)
        scale = float(np.max(np.abs(out), initial=0.0)) if out.dtype.kind in "fc" else 1.0
        return bool(np.allclose(out[:1], one, rtol=1e-9, atol=1e-12 * max(1.0, scale)))

    def _backward_takes_batch(self, batch: Batch) -> bool:
        try:
            self._gradients(batch)
            return True
        except ModelInterfaceError:
            return not self._one_example_works(batch)  # the error is not the layout's: it is said later
        except Exception:
            return False

    def _one_example_works(self, batch: Batch) -> bool:
        self.per_example = True
        try:
            self._gradients(batch.take(slice(0, 1)))
            return True
        except Exception:
            return False
        finally:
            self.per_example = False

    def focus(self, name: str | None, batch: Batch | None = None) -> None:
        """While parameter ``name`` alone is perturbed, evaluate the loss from its layer onward: the
        layers before it see unchanged parameters, so their output is computed once."""
        if name is None or batch is None or name not in self._owner or self.per_example:
            self._prefix = None
            return
        index = self.layers.index(self._owner[name][0])
        self._prefix = (batch, index, self.activations(batch)[index])

    @property
    def can_predict(self) -> bool:
        return True

    # -- one layer at a time (for the isolated checks) -------------------------------------------
    def layer_forward(self, layer: Layer, x: np.ndarray) -> np.ndarray:
        return self._call(f"{layer.id}.forward", layer.forward, x)

    def layer_backward(self, layer: Layer, dout: np.ndarray, x: np.ndarray
                       ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        return self._call(f"{layer.id}.backward", layer.backward, dout, x)

    def loss_forward(self, x: np.ndarray, y: np.ndarray) -> float:
        return self._call(f"{self.loss_layer.id}.forward", self.loss_layer.forward, x, y)

    def loss_backward(self) -> np.ndarray:
        return self._call(f"{self.loss_layer.id}.backward", self.loss_layer.backward)

    def _fresh(self) -> None:
        """``zero_grad()`` on every layer that has one, before a forward pass: accumulated gradients and
        cached inputs of earlier calls never mix into this one."""
        for layer in self.layers:
            if layer.zero is not None:
                self._call(f"{layer.id}.zero_grad", layer.zero)
        zero = next((getattr(self.loss_layer.obj, n) for n in ZERO_NAMES
                     if callable(getattr(self.loss_layer.obj, n, None))), None)
        if zero is not None:
            self._call(f"{self.loss_layer.id}.zero_grad", zero)

    def _chain(self, x: np.ndarray, start: int = 0) -> np.ndarray:
        if start == 0:
            self._fresh()
        for layer in self.layers[start:]:
            x = self._call(f"{layer.id}.forward", layer.forward, x)
        return x

    def activations(self, batch: Batch) -> list[np.ndarray]:
        """Inputs of every layer and the final output: ``[X, a1, ..., out]`` (for the first example only
        when the layers take one example at a time)."""
        outs = [batch.example(0)[0] if self.per_example else batch.X]
        self._fresh()
        for layer in self.layers:
            outs.append(self._call(f"{layer.id}.forward", layer.forward, outs[-1]))
        return outs

    def examples(self, batch: Batch) -> list[tuple[Any, Any]]:
        """The (x, y) pairs the layers run on: the whole batch once, or each example."""
        if self.per_example:
            return [batch.example(i) for i in range(batch.size)]
        return [(batch.X, batch.y)]

    def _predict(self, batch: Batch) -> Any:
        outs = [np.asarray(self._chain(x)) for x, _ in self.examples(batch)]
        return np.stack([o.reshape(-1) for o in outs]) if self.per_example else outs[0]

    def _loss(self, batch: Batch) -> float:
        values = []
        for x, y in self.examples(batch):
            if self._prefix is not None and self._prefix[0] is batch and not self.per_example:
                out = self._chain(self._prefix[2], self._prefix[1])
            else:
                out = self._chain(x)
            values.append(self._call(f"{self.loss_layer.id}.forward", self.loss_layer.forward, out, y))
        return float(np.mean(values))

    def _gradients(self, batch: Batch) -> dict[str, np.ndarray]:
        total: dict[str, np.ndarray] = {}
        pairs = self.examples(batch)
        for x, y in pairs:
            inputs = [x]
            self._fresh()
            for layer in self.layers:
                inputs.append(self._call(f"{layer.id}.forward", layer.forward, inputs[-1]))
            self._call(f"{self.loss_layer.id}.forward", self.loss_layer.forward, inputs[-1], y)
            grad = self._call(f"{self.loss_layer.id}.backward", self.loss_layer.backward)
            for i in reversed(range(len(self.layers))):
                layer = self.layers[i]
                grad, local = self._call(f"{layer.id}.backward", layer.backward, grad, inputs[i])
                for key, g in local.items():
                    name = layer.slots[key].name
                    if g.shape != self.params[name].shape:
                        raise ModelInterfaceError(f"{layer.id}: gradient of {key!r} has shape {g.shape}; expected "
                                                  f"{self.params[name].shape}")
                    total[name] = total.get(name, 0) + g / len(pairs)
        return total
