"""Keeping the user's model untouched: a private copy to work on, and a guard that restores the original."""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import TracebackType
from typing import Any

import numpy as np

from .discovery import container_slots
from .slots import AttrSlot, ItemSlot, Slot

__all__ = ["ModelGuard", "guard_model", "private_copy"]


def private_copy(model: Any) -> tuple[Any, str | None]:
    """A deep copy of ``model`` to work on, or the model itself and the reason it could not be copied."""
    try:
        return copy.deepcopy(model), None
    except Exception as exc:  # locks, open files, C handles...
        return model, f"{type(exc).__name__}: {exc}"


def _all_array_slots(model: Any) -> list[Slot]:
    slots: list[Slot] = []
    found = container_slots(model)
    if found is not None:
        slots.extend(found[1])
    try:
        items = list(vars(model).items())
    except TypeError:
        items = []
    slots.extend(AttrSlot(name=k, owner=model, attr=k) for k, v in items if isinstance(v, np.ndarray))
    return slots


class ModelGuard:
    """Snapshot every array of the user's model (and numpy's global random state); restore on exit.

    Restoring puts the same array objects back in their places with bitwise their old contents, also when
    the body raised, so a caller never sees a changed model.
    """

    def __init__(self, model: Any, extra: list[Slot] | None = None,
                 hooks: list[Callable[[], None]] | None = None) -> None:
        self._hooks = list(hooks or [])
        self._saved: list[tuple[Slot, np.ndarray, np.ndarray]] = []
        try:
            slots = _all_array_slots(model) + list(extra or [])
        except Exception:  # a params() that raises: the adapter reports it; nothing to snapshot here
            slots = list(extra or [])
        for slot in slots:
            array = slot.read()
            if isinstance(array, np.ndarray):
                self._saved.append((slot, array, array.copy()))
        self._rng_state = np.random.get_state()

    def __enter__(self) -> ModelGuard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()

    def restore(self) -> None:
        for slot, array, saved in self._saved:
            try:
                if slot.read() is not array:
                    slot.write(array)
            except Exception:
                pass
            if array.flags.writeable and array.tobytes() != saved.tobytes():
                np.copyto(array, saved)
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
