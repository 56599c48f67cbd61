"""Where a parameter lives inside the user's object, so the kit can read it, swap it and put it back."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AttrSlot", "ItemSlot", "PathSlot", "Slot", "Step", "path_name"]


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


#: One step of a path into an object: ``("attr", name)``, or ``("item", key or index)``.
Step = tuple[str, Any]


def path_name(path: Sequence[Step]) -> str:
    """``weights[0]``, ``layers[2].W``, ``params.W1``: how a parameter is named in reports."""
    text = ""
    for kind, key in path:
        if kind == "attr":
            text += f".{key}" if text else str(key)
        elif isinstance(key, int):
            text += f"[{key}]"
        else:
            text += f".{key}" if text else str(key)
    return text


def _get(node: Any, step: Step) -> Any:
    kind, key = step
    return getattr(node, key) if kind == "attr" else node[key]


@dataclass(eq=False)
class PathSlot(Slot):
    """A location reached from ``root`` by a path of attributes and items, resolved anew on every read,
    so code that rebinds a container (``self.weights = [w - ... for w in ...]``) is followed."""

    name: str
    root: Any
    path: tuple[Step, ...]

    def read(self) -> Any:
        node = self.root
        try:
            for step in self.path:
                node = _get(node, step)
        except (AttributeError, KeyError, IndexError, TypeError):
            return None
        return node

    def write(self, value: np.ndarray) -> None:
        node = self.root
        for step in self.path[:-1]:
            node = _get(node, step)
        kind, key = self.path[-1]
        if kind == "attr":
            setattr(node, key, value)
        elif isinstance(node, tuple):
            raise TypeError(f"{self.name} sits in a tuple and cannot be rebound")
        else:
            node[key] = value

    @property
    def owner(self) -> Any:
        """The object or container holding the parameter."""
        node = self.root
        for step in self.path[:-1]:
            node = _get(node, step)
        return node
