"""PyTorch: an ``nn.Module`` with a loss function, or a custom ``torch.autograd.Function``.

torch is imported only when the model is a torch object (it cannot be one unless the user already
imported torch). The module is deep-copied and converted to float64; its parameters are read as numpy
views of the copy's tensors, so the numeric engine perturbs them in place. Analytic gradients come from
autograd — which, for a custom Function, means its hand-written ``backward``.
"""

from __future__ import annotations

import copy
import inspect
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError, ModelInterfaceError
from .batch import Batch, as_batch
from .slots import ItemSlot, Slot
from .view import ModelView, as_loss_value

__all__ = [
    "FunctionView",
    "TorchModuleView",
    "adapt_torch",
    "function_inputs_batch",
    "is_torch_function",
    "is_torch_module",
    "torch_guard",
]


def _torch() -> Any:
    return sys.modules.get("torch")


def is_torch_module(model: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(model, torch.nn.Module)


def is_torch_function(model: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(model, type) and issubclass(model, torch.autograd.Function)


class _ArraySlot(Slot):
    """A numpy view of a tensor: perturbed in place, never rebound."""

    def __init__(self, name: str, array: np.ndarray) -> None:
        self.name = name
        self.array = array

    def read(self) -> Any:
        return self.array

    def write(self, value: np.ndarray) -> None:
        if value is not self.array:
            np.copyto(self.array, value)


def torch_guard(model: Any) -> Callable[[], None]:
    """Snapshot a module's parameters and buffers and torch's RNG; the returned function restores them."""
    torch = _torch()
    state = (  # meta tensors hold no values: nothing to snapshot or restore
        {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items() if v.device.type != "meta"}
        if is_torch_module(model) else {}
    )
    tensors = dict(model.state_dict(keep_vars=True)) if is_torch_module(model) else {}
    rng = torch.random.get_rng_state() if torch is not None else None

    def restore() -> None:
        with torch.no_grad():
            for key, saved in state.items():
                tensor = tensors[key]
                if not torch.equal(tensor, saved):
                    tensor.copy_(saved)
        if rng is not None:
            torch.random.set_rng_state(rng)

    return restore


class TorchModuleView(ModelView):
    """``module(X)`` → outputs (B, K); ``loss(outputs, y)`` → scalar tensor; gradients by autograd."""

    style = "torch nn.Module"

    def __init__(self, module: Any, loss: Callable[..., Any], *, label: str) -> None:
        torch = _torch()
        self.torch = torch
        try:
            target = copy.deepcopy(module)
        except Exception as exc:
            raise ModelInterfaceError(
                f"{label} could not be deep-copied ({exc}); the kit never changes your module"
            ) from exc
        source = {name: p.dtype for name, p in module.named_parameters()}
        meta = [name for name, p in module.named_parameters() if p.device.type == "meta"]
        if meta:
            raise ModelInterfaceError(f"{label}'s parameters {meta[:4]} are on the meta device: they hold no values "
                                      f"to check; materialise the module (e.g. module.to_empty(device='cpu') and "
                                      f"initialise it) first")
        target = target.double()
        self.loss_fn = loss
        self.tensors = {name: p for name, p in target.named_parameters() if p.requires_grad}
        if not self.tensors:
            raise ModelInterfaceError(f"{label} has no parameters that require grad")
        slots = [_ArraySlot(name, p.detach().numpy()) for name, p in self.tensors.items()]
        super().__init__(target, slots, private=True, label=label)
        self.source_dtypes = {n: _numpy_dtype(source[n]) for n in self.tensors}
        if any("bfloat16" in str(source[n]) for n in self.tensors):
            self.notes.add("bfloat16 parameters (a type numpy lacks) are checked in float64 and reported as float32")
        self.notes.add(
            "torch module converted to float64 on a private copy; loss "
            f"{getattr(loss, '__name__', type(loss).__name__)}"
        )

    @property
    def can_predict(self) -> bool:
        return True

    def _inputs(self, batch: Batch) -> tuple[Any, Any]:
        torch = self.torch
        return torch.from_numpy(np.array(batch.X)), torch.from_numpy(np.array(batch.y))  # copies: read-only batch

    def _predict(self, batch: Batch) -> Any:
        with self.torch.no_grad():
            out = self._call("forward", self.target, self.torch.from_numpy(np.array(batch.X)))
        return out.detach().numpy()

    def _loss(self, batch: Batch) -> float:
        Xt, yt = self._inputs(batch)
        with self.torch.no_grad():
            value = self._call("loss", lambda: self.loss_fn(self.target(Xt), yt))
        return as_loss_value(_scalar(value, "loss(module(X), y)"), "loss(module(X), y)")

    def _gradients(self, batch: Batch) -> dict[str, np.ndarray]:
        Xt, yt = self._inputs(batch)
        self.target.zero_grad(set_to_none=True)

        def backward() -> None:
            self.loss_fn(self.target(Xt), yt).backward()

        self._call("backward", backward)
        out = {}
        for name, p in self.tensors.items():
            out[name] = np.zeros(p.shape) if p.grad is None else p.grad.detach().numpy().astype(np.float64).copy()
        return out


class FunctionView(ModelView):
    """A custom ``torch.autograd.Function``: its inputs are checked as the "parameters" of
    ``φ = ⟨g, Function.apply(*inputs)⟩`` for a fixed random upstream gradient ``g``."""

    style = "torch autograd.Function"
    kind = "function"
    chain = False

    def __init__(self, function: Any, inputs: tuple[Any, ...], *, seed: int) -> None:
        torch = _torch()
        self.torch = torch
        self.function = function
        names = _argument_names(function, len(inputs))
        self.fixed: list[Any] = []
        self.arrays: dict[str, np.ndarray] = {}
        for name, value in zip(names, inputs):
            if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
                self.arrays[name] = np.array(value.detach().cpu().numpy(), dtype=np.float64)
                self.fixed.append(name)
            else:  # ints, flags, python numbers: passed through as given, not differentiated
                self.fixed.append(value)
        if not self.arrays:
            raise ModelInterfaceError(
                f"{function.__name__}: none of its {len(inputs)} inputs is a float tensor to "
                "check; "
                f"pass the inputs as torch tensors"
            )
        slots = [ItemSlot(name=k, mapping=self.arrays, key=k) for k in self.arrays]
        super().__init__(function, slots, private=True, label=function.__name__)
        self.source_dtypes = {
            k: np.dtype(str(v.dtype).replace("torch.", "")) if isinstance(v, torch.Tensor) else np.asarray(v).dtype
            for k, v in zip(names, inputs)
            if k in self.arrays
        }
        out = self._apply(grad=False)
        self.upstream = np.random.default_rng(seed).standard_normal(out.shape)
        self.notes.add(
            f"custom autograd.Function {function.__name__}: backward checked against finite differences "
            f"of <g, {function.__name__}.apply(*inputs)> for a random upstream gradient g"
        )

    def _apply(self, grad: bool) -> Any:
        torch = self.torch
        args, leaves = [], {}
        for item in self.fixed:
            if isinstance(item, str) and item in self.arrays:
                t = torch.from_numpy(self.arrays[item]).requires_grad_(grad)
                leaves[item] = t
                args.append(t)
            else:
                args.append(item)
        out = self._call("apply", self.function.apply, *args)
        if isinstance(out, tuple):
            out = out[0]
        self._leaves = leaves
        return out if grad else out.detach().numpy()

    def _loss(self, batch: Batch) -> float:
        with self.torch.no_grad():
            return float(np.vdot(self.upstream, self._apply(grad=False)))

    def _gradients(self, batch: Batch) -> dict[str, np.ndarray]:
        out = self._apply(grad=True)
        self._call("backward", out.backward, self.torch.from_numpy(self.upstream))
        return {
            k: (np.zeros_like(self.arrays[k]) if t.grad is None else t.grad.detach().numpy().copy())
            for k, t in self._leaves.items()
        }


def _argument_names(function: Any, count: int) -> list[str]:
    try:
        params = list(inspect.signature(function.forward).parameters)[1:]  # drop ctx
    except (TypeError, ValueError):
        params = []
    names = [p for p in params if p not in ("args", "kwargs")][:count]
    return names + [f"input{i}" for i in range(len(names), count)]


def function_inputs_batch(inputs: Any) -> Batch:
    """For a custom autograd.Function the "batch" is the tuple of its inputs; X and y are placeholders."""
    if not isinstance(inputs, (tuple, list)) or not inputs:
        raise InputError("for a torch autograd.Function, pass the tuple of its inputs as the batch, e.g. (x, w)")
    return Batch(X=np.zeros((1, 1)), y=np.zeros(1, dtype=np.intp), input_dtype=np.dtype(np.float64))


def adapt_torch(model: Any, batch: Any, *, loss: Any, seed: int) -> tuple[ModelView, Batch]:
    """Views of torch objects (torch is imported only when the model is one), and the checked batch."""
    if is_torch_function(model):
        if loss is not None:
            raise InputError(
                "loss= is for torch nn.Module models; a custom autograd.Function is checked through its own output",
                option="loss",
            )
        data = function_inputs_batch(batch)
        return FunctionView(model, tuple(batch), seed=seed), data
    if loss is None:
        raise InputError(
            "a torch nn.Module needs loss=: the loss function loss(outputs, y), e.g. nn.CrossEntropyLoss()",
            option="loss",
        )
    data = as_batch(batch)
    view = TorchModuleView(model, loss, label=type(model).__name__)
    outputs = view.predict(data)
    if outputs.shape[1] >= 2:
        data.check_labels(outputs.shape[1])
    return view, data


def _scalar(value: Any, call: str) -> Any:
    """A loss tensor as a Python number, or a clear error for a loss of several values."""
    numel = getattr(value, "numel", None)
    if callable(numel) and numel() != 1:
        raise ModelInterfaceError(f"{call} returned {numel()} values (shape {tuple(value.shape)}); expected one "
                                  f"number, the batch loss (a torch loss with reduction='none' must be reduced: "
                                  f"use reduction='mean' or 'sum')")
    return value.item() if hasattr(value, "item") else value


def _numpy_dtype(dtype: Any) -> np.dtype:
    """A torch dtype as numpy's (bfloat16, which numpy lacks, as float32)."""
    name = str(dtype).replace("torch.", "")
    return np.dtype(np.float32) if name == "bfloat16" else np.dtype(name)
