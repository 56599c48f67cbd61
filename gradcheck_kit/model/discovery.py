"""Finding parameters and methods on a user's object, without knowing its class."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from .slots import AttrSlot, ItemSlot, Slot

__all__ = [
    "GRADIENT_METHODS",
    "PARAM_CONTAINERS",
    "PREDICT_METHODS",
    "TRAIN_METHODS",
    "accepts",
    "array_attributes",
    "container_slots",
    "find_method",
    "is_param_array",
]

PARAM_CONTAINERS = ("params", "parameters")
PREDICT_METHODS = ("forward", "predict_proba", "predict")
GRADIENT_METHODS = ("backward", "gradients", "grads")
TRAIN_METHODS = ("train", "step", "update")


def is_param_array(value: Any) -> bool:
    """A floating ndarray with at least one entry: the only kind of value the kit differentiates."""
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size > 0


def accepts(func: Callable[..., Any], n_positional: int) -> bool:
    """Whether ``func`` can be called with ``n_positional`` positional arguments."""
    try:
        inspect.signature(func).bind(*([None] * n_positional))
    except TypeError:
        return False
    except ValueError:  # builtins without a signature: let the call decide
        return True
    return True


def find_method(obj: Any, names: tuple[str, ...], n_positional: int) -> tuple[str, Callable[..., Any]] | None:
    """First callable attribute among ``names`` that takes ``n_positional`` arguments."""
    for name in names:
        method = getattr(obj, name, None)
        if callable(method) and accepts(method, n_positional):
            return name, method
    return None


def _flatten(mapping: Mapping[str, Any], prefix: str, refetch: Callable[[], Any] | None, out: list[Slot]) -> None:
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuc":
            raise ModelInterfaceError(
                f"parameter {name!r} has dtype {value.dtype}; expected a float array (an integer or bool array "
                f"cannot take a fractional gradient step, and complex ones are not supported): create it with "
                f"dtype=float, e.g. np.zeros({value.shape[0] if value.ndim else ''}, dtype=float)"
            )
        if is_param_array(value) and isinstance(mapping, MutableMapping):
            fetch = None
            if refetch is not None:
                fetch = _digger(refetch, prefix)
            out.append(ItemSlot(name=name, mapping=mapping, key=key, refetch=fetch))
        elif isinstance(value, Mapping):
            _flatten(value, f"{name}.", refetch, out)


def _digger(refetch: Callable[[], Any], prefix: str) -> Callable[[], Any]:
    parts = [p for p in prefix.split(".") if p]

    def fetch() -> Any:
        node = refetch()
        for part in parts:
            node = node[part]
        return node

    return fetch


def container_slots(obj: Any) -> tuple[str, list[Slot]] | None:
    """Slots for a ``params``/``parameters`` mapping (attribute, or method returning one); nested
    mappings flatten to dotted names (``{"output": {"W": ...}}`` → ``"output.W"``)."""
    for attr in PARAM_CONTAINERS:
        value = getattr(obj, attr, None)
        refetch = None
        if callable(value) and not isinstance(value, Mapping):
            if not accepts(value, 0):
                continue
            refetch = value
            value = value()
        if isinstance(value, Mapping):
            slots: list[Slot] = []
            _flatten(value, "", refetch, slots)
            if slots:
                return (f"{attr}()" if refetch else attr), slots
    return None


def array_attributes(obj: Any, *, public_only: bool = True) -> list[Slot]:
    """Floating ndarray attributes of ``obj`` in assignment order (``self.W1``, ``self.b1``, ...)."""
    try:
        items = list(vars(obj).items())
    except TypeError:
        return []
    return [
        AttrSlot(name=name, owner=obj, attr=name)
        for name, value in items
        if is_param_array(value) and not (public_only and name.startswith("_"))
    ]
