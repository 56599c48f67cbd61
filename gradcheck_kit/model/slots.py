"""Where a parameter lives inside the user's object, so the kit can read it, swap it and put it back."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AttrSlot", "ItemSlot", "Slot"]


class Slot:
    """One parameter's location. ``read`` returns the object there now; ``write`` rebinds it."""

    name: str

    def read(self) -> Any:
        raise NotImplementedError

    def write(self, value: np.ndarray) -> None:
        raise NotImplementedError


@dataclass(eq=False)
class AttrSlot(Slot):
    """``owner.<attr>``."""

    name: str
    owner: Any
    attr: str

    def read(self) -> Any:
        return getattr(self.owner, self.attr, None)

    def write(self, value: np.ndarray) -> None:
        setattr(self.owner, self.attr, value)


@dataclass(eq=False)
class ItemSlot(Slot):
    """``mapping[key]``; ``refetch`` re-obtains the mapping when it comes from a method (``params()``)."""

    name: str
    mapping: MutableMapping[str, Any]
    key: str
    refetch: Callable[[], MutableMapping[str, Any]] | None = None

    def read(self) -> Any:
        if self.refetch is not None:
            try:
                fresh = self.refetch()
            except Exception:
                fresh = self.mapping
            return _dig(fresh, self.key)
        return self.mapping.get(self.key)

    def write(self, value: np.ndarray) -> None:
        self.mapping[self.key] = value


def _dig(mapping: Any, key: str) -> Any:
    try:
        return mapping[key]
    except Exception:
        return None
