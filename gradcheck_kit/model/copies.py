"""Copies of the user's model to work on: deep copies that keep arrays sharing a buffer sharing one, and
the graph of containers reachable from a model (what the guard saves and restores)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .discovery import is_user_object

__all__ = ["deep_copy", "model_graph", "private_copy"]

#: How deep, and how many containers, are followed from the model (attributes, lists, dicts).
GRAPH_DEPTH = 8
GRAPH_LIMIT = 20_000


def private_copy(model: Any) -> tuple[Any, str | None]:
    """A deep copy of ``model`` to work on, or the model itself and the reason it could not be copied.
    Arrays that are views of one buffer (parameters as slices of a flat vector the forward reads) stay
    views of one copied buffer, so moving a parameter moves what the forward reads."""
    try:
        return deep_copy(model), None
    except Exception as exc:  # locks, open files, C handles...
        return model, f"{type(exc).__name__}: {exc}"


def deep_copy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy`` that keeps arrays sharing one buffer sharing one copied buffer (see
    `private_copy`); ``memo`` adds objects to keep as they are."""
    return copy.deepcopy(value, {**_views_kept(value), **(memo or {})})


def _root(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _views_kept(model: Any) -> dict[int, Any]:
    """A deepcopy memo that maps every array view in the model onto a copy of its buffer, at the same
    offset and strides, when two or more arrays share that buffer."""
    arrays = [a for node in model_graph(model) for a in _values(node) if isinstance(a, np.ndarray)]
    by_root: dict[int, list[np.ndarray]] = {}
    for a in arrays:
        by_root.setdefault(id(_root(a)), []).append(a)
    memo: dict[int, Any] = {}
    for group in by_root.values():
        root = _root(group[0])
        if len({id(a) for a in group}) < 2 or type(root) is not np.ndarray or not root.flags.c_contiguous:
            continue
        copied = root.copy()
        memo[id(root)] = copied
        start = root.__array_interface__["data"][0]
        for a in group:
            if a is root or type(a) is not np.ndarray:
                continue
            offset = a.__array_interface__["data"][0] - start
            memo[id(a)] = np.ndarray(a.shape, a.dtype, buffer=copied, offset=offset, strides=a.strides)
    memo[id(memo)] = [arrays]  # keep the originals alive while the memo is used (ids must not be reused)
    return memo


def _values(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    try:
        return list(vars(node).values())
    except TypeError:
        return []


def model_graph(model: Any) -> list[Any]:
    """Every user object, list and dict reachable from ``model`` (breadth first, bounded); tuples are
    looked into but not saved (they cannot change)."""
    seen: set[int] = set()
    found: list[Any] = []
    level = [model]
    for _ in range(GRAPH_DEPTH + 1):
        deeper: list[Any] = []
        for node in level:
            if id(node) in seen or not (isinstance(node, list | dict | tuple) or is_user_object(node)):
                continue
            seen.add(id(node))
            if not isinstance(node, tuple):
                found.append(node)
            if len(found) >= GRAPH_LIMIT:
                return found
            if isinstance(node, dict):
                deeper.extend(node.values())
            elif isinstance(node, list | tuple):
                deeper.extend(node)
            else:
                try:
                    deeper.extend(vars(node).values())
                except TypeError:
                    continue
        level = deeper
    return found
