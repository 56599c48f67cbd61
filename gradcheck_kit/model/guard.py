"""Keeping the user's model untouched: a private copy to work on, and a guard that restores the original."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any

import numpy as np

from .copies import model_graph, same_bytes
from .slots import ItemSlot, Slot

__all__ = ["ModelGuard", "guard_model"]

_MISSING = object()


def _saved_once(array: np.ndarray, copies: dict[int, np.ndarray]) -> np.ndarray:
    """A read-only copy of ``array``, made once per array (``copies``, by id) however many places hold it
    (``self.W`` and ``self.layers[0]["W"]``). Read-only: the guard's saved bytes are read by others
    (`ModelGuard.copies`), never written."""
    saved = copies.get(id(array))
    if saved is None:
        saved = copies[id(array)] = array.copy()
        saved.setflags(write=False)
    return saved


class _Saved:
    """One container's contents by reference (what sits where), and the bytes of the arrays in it."""

    def __init__(self, node: Any, copies: dict[int, np.ndarray]) -> None:
        self.node = node
        self.items: Any = list(node) if isinstance(node, list) else dict(node) if isinstance(node, dict) \
            else dict(vars(node))
        values = self.items if isinstance(self.items, list) else list(self.items.values())
        self.arrays = [(a, _saved_once(a, copies)) for a in values if isinstance(a, np.ndarray)]

    def restore(self) -> None:
        with contextlib.suppress(Exception):  # a container that refuses (read-only, a __setattr__ guard):
            self._put_back()  # its arrays are still put back below
        for array, saved in self.arrays:
            if array.flags.writeable and not same_bytes(array, saved):
                np.copyto(array, saved)

    def reset(self, fresh: dict[int, np.ndarray]) -> None:
        """As `restore`, except that an array a trial call changed (or a read-only one) is not written back in
        place but replaced where it sits by a new, writable copy of its saved bytes — one per array, shared
        through ``fresh`` by every container that holds it: what the call returned may be that array."""
        with contextlib.suppress(Exception):
            self._put_back()
        for array, saved in self.arrays:
            if id(array) not in fresh and not (array.flags.writeable and same_bytes(array, saved)):
                fresh[id(array)] = saved.copy()
        if any(id(array) in fresh for array, _ in self.arrays):
            with contextlib.suppress(Exception):
                self._replace(fresh)

    def _replace(self, fresh: dict[int, np.ndarray]) -> None:
        node = self.node
        if isinstance(node, list):
            for i, value in enumerate(node):
                if id(value) in fresh:
                    node[i] = fresh[id(value)]
            return
        state = node if isinstance(node, dict) else vars(node)
        for key, value in list(state.items()):
            if id(value) in fresh:
                _assign(node, key, fresh[id(value)])

    def _put_back(self) -> None:
        node, items = self.node, self.items
        if isinstance(node, list):
            if len(node) != len(items) or any(x is not y for x, y in zip(node, items, strict=True)):
                node[:] = items
            return
        state = node if isinstance(node, dict) else vars(node)
        if state.keys() == items.keys() and all(state[k] is v for k, v in items.items()):
            return
        for key in [k for k in state if k not in items]:
            if isinstance(node, dict):
                del node[key]
            else:
                delattr(node, key)
        for key, value in items.items():
            if state.get(key, _MISSING) is not value:
                _assign(node, key, value)


def _assign(node: Any, key: str, value: Any) -> None:
    """``node[key] = value`` for a dict, else the attribute."""
    if isinstance(node, dict):
        node[key] = value
    else:
        setattr(node, key, value)


class ModelGuard:
    """Snapshot everything of the user's model the kit could touch; restore it on exit.

    Every user object, list and dict reachable from the model is saved by reference (which object sits
    in which attribute, item or key) with the bytes of every array in it. Restoring puts the same objects
    back in their places — attributes added during the run removed, rebound ones rebound — with bitwise
    their old contents, also when the body raised, so a caller never sees a changed model, even one
    checked in place. numpy's global random state is put back only when the model draws from it
    (``model_draws``), so other threads' random numbers are never rewound.

    The saved copies are read-only, and lent out (`copies`) as the start values of the kit's private copy:
    no second copy of the same bytes.
    """

    def __init__(self, model: Any, extra: list[Slot] | None = None,
                 hooks: list[Callable[[], None]] | None = None) -> None:
        self._hooks = list(hooks or [])
        self._copies: dict[int, np.ndarray] = {}
        self._nodes = [_Saved(node, self._copies) for node in model_graph(model)]
        self._saved: list[tuple[Slot, np.ndarray, np.ndarray]] = []
        for slot in extra or []:
            array = slot.read()
            if isinstance(array, np.ndarray):
                self._saved.append((slot, array, _saved_once(array, self._copies)))
        self._rng_state = np.random.get_state()

    def copies(self) -> dict[int, np.ndarray]:
        """The saved arrays by the ``id`` of the model's array they hold the bytes of (read-only; the guard
        holds the model's arrays, so those ids stay theirs while it lives)."""
        return dict(self._copies)

    def reset(self) -> None:
        """Put every container's contents back by reference, changed arrays as new copies (`_Saved.reset`): the
        reader's reset between trial calls on a model it could not deep-copy. numpy's random state, the extra
        slots and the hooks are left as they are."""
        fresh: dict[int, np.ndarray] = {}
        for node in self._nodes:
            node.reset(fresh)

    def __enter__(self) -> ModelGuard:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.restore()

    def restore(self, *, model_draws: bool = True) -> None:
        """Put everything back; numpy's global random state too when ``model_draws`` from it."""
        for node in self._nodes:
            node.restore()
        for slot, array, saved in self._saved:
            with contextlib.suppress(Exception):
                if slot.read() is not array:
                    slot.write(array)
            if array.flags.writeable and not same_bytes(array, saved):
                np.copyto(array, saved)
        if model_draws:
            np.random.set_state(self._rng_state)
        for hook in self._hooks:
            hook()


def guard_model(model: Any) -> ModelGuard:
    """A guard over everything of ``model`` the kit could touch: its arrays, the parameter dict of a
    `wrap` model, and for torch objects the module's state and torch's random state."""
    from .functional import FunctionalModel
    from .torch import is_torch_function, is_torch_module, torch_guard

    extra: list[Slot] = []
    hooks: list[Callable[[], None]] = []
    if isinstance(model, FunctionalModel) and hasattr(model.params, "__setitem__"):
        extra = [ItemSlot(name=k, mapping=model.params, key=k) for k in model.params]  # type: ignore[arg-type]
    if is_torch_module(model) or is_torch_function(model):
        hooks.append(torch_guard(model))
    return ModelGuard(model, extra=extra, hooks=hooks)
