"""Finding parameters and methods on a user's object, without knowing its class."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from .slots import AttrSlot, ItemSlot, PathSlot, Slot, Step, path_name

__all__ = [
    "GRADIENT_METHODS",
    "PARAM_CONTAINERS",
    "PREDICT_METHODS",
    "TRAIN_METHODS",
    "accepts",
    "array_attributes",
    "container_slots",
    "find_arrays",
    "find_method",
    "is_param_array",
    "is_user_object",
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


def _flatten(mapping: Mapping[str, Any], prefix: str, refetch: Callable[[], Any] | None, out: list[Slot],
             root: tuple[Any, tuple[Step, ...]] | None = None) -> None:
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuc":
            raise ModelInterfaceError(
                f"parameter {name!r} has dtype {value.dtype}; expected a float array (an integer or bool array "
                f"cannot take a fractional gradient step, and complex ones are not supported): create it with "
                f"dtype=float, e.g. np.zeros({value.shape[0] if value.ndim else ''}, dtype=float)"
            )
        if is_param_array(value) and isinstance(mapping, MutableMapping):
            if root is not None:  # an attribute: found anew on every read, whatever replaced the dict
                out.append(PathSlot(name=name, root=root[0], path=(*root[1], ("item", key))))
                continue
            fetch = None
            if refetch is not None:
                fetch = _digger(refetch, prefix)
            out.append(ItemSlot(name=name, mapping=mapping, key=key, refetch=fetch))
        elif isinstance(value, Mapping):
            _flatten(value, f"{name}.", refetch, out,
                     None if root is None else (root[0], (*root[1], ("item", key))))


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
            _flatten(value, "", refetch, slots, None if refetch else (obj, (("attr", attr),)))
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


#: How deep `find_arrays` looks into nested containers and objects (``net.layers[2].W`` is depth 3).
SEARCH_DEPTH = 4
_SKIP_TYPES = (str, bytes, int, float, complex, bool, type(None))


def is_user_object(value: Any) -> bool:
    """An instance whose attributes may hold parameters (not a module, function, class or builtin)."""
    if isinstance(value, _SKIP_TYPES) or inspect.ismodule(value) or inspect.isroutine(value) or isinstance(value, type):
        return False
    module = getattr(type(value), "__module__", "") or ""
    if module.split(".")[0] in ("builtins", "numpy", "torch", "scipy", "pandas", "threading", "io", "random"):
        return False
    return hasattr(value, "__dict__")


def _children(node: Any, public_only: bool) -> list[tuple[Step, Any]]:
    if isinstance(node, Mapping):
        return [(("item", k), v) for k, v in node.items() if isinstance(k, str | int)]
    if isinstance(node, list | tuple):
        return [(("item", i), v) for i, v in enumerate(node)]
    try:
        items = list(vars(node).items())
    except TypeError:
        return []
    return [(("attr", k), v) for k, v in items if not (public_only and k.startswith("_"))]


def find_arrays(obj: Any, *, public_only: bool = True, depth: int = SEARCH_DEPTH) -> list[PathSlot]:
    """Float arrays reachable from ``obj`` through attributes, lists, tuples and dicts, level by level (an
    object's own attributes before those of the objects it holds) and in the order they were assigned,
    each named by its shortest path: ``W1``, ``weights[0]``, ``layers[2].W``, ``fc1.weight`` (for a
    parameter object's ``.data`` beside its ``.grad``)."""
    found: list[PathSlot] = []
    seen: set[int] = {id(obj)}
    level: list[tuple[Any, tuple[Step, ...]]] = [(obj, ())]
    for _ in range(depth + 1):
        deeper: list[tuple[Any, tuple[Step, ...]]] = []
        for node, path in level:
            for step, value in _children(node, public_only):
                if id(value) in seen:
                    continue
                here = (*path, step)
                if is_param_array(value):
                    seen.add(id(value))
                    # a parameter object (``.data`` beside ``.grad``) is named as the object: fc1.weight
                    held = step == ("attr", "data") and path and hasattr(node, "grad")
                    found.append(PathSlot(name=path_name(path if held else here), root=obj, path=here))
                elif isinstance(value, list | tuple | Mapping) or is_user_object(value):
                    seen.add(id(value))
                    deeper.append((value, here))
        level = deeper
    return found
