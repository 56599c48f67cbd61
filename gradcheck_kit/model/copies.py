"""Copies of the user's model to work on: deep copies that keep arrays sharing a buffer sharing one, a
saved state put back after trial calls (`StateCopy`), bitwise comparison of arrays (`same_bytes`), and the
graph of containers reachable from a model (what the guard saves and restores)."""

from __future__ import annotations

import copy
import sys
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from .discovery import is_user_object

__all__ = ["StateCopy", "deep_copy", "kept_or_copied", "model_graph", "private_copy", "same_bytes"]

#: How deep, and how many containers, are followed from the model (attributes, lists, dicts).
GRAPH_DEPTH = 8
GRAPH_LIMIT = 20_000


def private_copy(model: Any, saved: Mapping[int, np.ndarray] | None = None
                 ) -> tuple[Any, str | None, dict[int, np.ndarray]]:
    """A deep copy of ``model`` to work on, or the model itself and the reason it could not be copied.
    Arrays that are views of one buffer (parameters as slices of a flat vector the forward reads) stay
    views of one copied buffer, so moving a parameter moves what the forward reads.

    ``saved``: read-only copies of the model's arrays by their ``id`` (the guard's); returned re-keyed by
    the ``id`` of the array of the copy that was made from each — the copy's start values, which saves
    holding the same bytes a third time (`StateCopy`, the measurement's baseline)."""
    saved = saved or {}
    try:
        memo = _views_kept(model)
        target = copy.deepcopy(model, memo)
    except Exception as exc:  # locks, open files, C handles...
        return model, f"{type(exc).__name__}: {exc}", dict(saved)  # checked in place: its own arrays
    start = {id(memo[id(a)]): saved[id(a)] for a in memo[id(memo)][1:]  # what deepcopy copied (see StateCopy)
             if isinstance(a, np.ndarray) and id(a) in saved and isinstance(memo.get(id(a)), np.ndarray)}
    return target, None, start


def deep_copy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy`` that keeps arrays sharing one buffer sharing one copied buffer (see
    `private_copy`); ``memo`` adds objects to keep as they are."""
    return copy.deepcopy(value, {**_views_kept(value), **(memo or {})})


class StateCopy:
    """A deep copy of an object's attributes (``vars``) that `put_back` makes its attributes again, as often
    as trial calls change them.

    Putting back a whole deep copy each time would allocate (and the system zero) every array again; instead
    an array the object had when the copy was taken and that a trial left bitwise as it was is put back
    itself, and only the rest of the state is deep-copied anew (a trial call usually leaves the weights as
    they were). An array a trial changed is replaced by a new copy, not written back in place: what the
    trial returned may be that array (an output buffer forward fills), and must keep the trial's values.
    Arrays that do not own their memory, or of object dtype, read-only ones (a writable copy comes back, as
    the deep copy is), and every array of a state whose arrays share buffers are copied anew every time.

    ``start``: read-only arrays holding, bitwise, the values of the state's arrays (by their ``id``; see
    `private_copy`) — held as the saved values of those writable arrays instead of a copy of their own, where
    dtype, layout and bytes match. A deepcopy hook of the model's (``__setstate__``) that writes into one, or
    makes one writable, costs only the saving: the start value is made what it was, and the state is copied
    without start values.
    """

    def __init__(self, state: dict[str, Any], start: Mapping[int, np.ndarray] | None = None) -> None:
        try:
            self._copy(state, start or {})
        except Exception:
            if not start:
                raise
            self._copy(state, {})  # a deepcopy hook (``__setstate__``) of the model's wrote into a start value

    def _copy(self, state: dict[str, Any], start: Mapping[int, np.ndarray]) -> None:
        memo = _views_kept(state)
        shares = len(memo) > 1  # besides the keep-alive entry: some arrays are views of one buffer
        held = [] if shares else [
            a for a in {id(a): a for a in memo[id(memo)][0]}.values()  # each array in the state's containers
            if _plain(a) and a.flags.writeable and (s := start.get(id(a))) is not None and not s.flags.writeable
            and s.dtype == a.dtype and s.strides == a.strides and same_bytes(s, a)]  # still the array, bitwise
        memo.update({id(a): start[id(a)] for a in held})  # they stand for those arrays' copies
        try:
            self.saved: dict[str, Any] = copy.deepcopy(state, memo)
        finally:
            touched = [a for a in held if _repaired(start[id(a)], a)]
        if touched:  # a hook of the model's made a start value writable: it is itself again; no start values
            raise ValueError(f"a deepcopy hook made {len(touched)} of the guard's copies writable")
        copied = memo[id(memo)][1:]  # what deepcopy copied, after _views_kept's own entry
        self._pairs = [] if shares else [
            (a, memo[id(a)]) for a in [*held, *copied] if _plain(a) and isinstance(memo.get(id(a)), np.ndarray)]

    def put_back(self, state: dict[str, Any]) -> None:
        """Make ``state`` (the object's ``vars``) what it was when this copy was taken."""
        kept: dict[int, Any] = {}
        for array, saved in self._pairs:  # a read-only array is copied anew: writable, as the copy was
            if array.flags.writeable and same_bytes(array, saved):
                kept[id(saved)] = array
        state.clear()  # first: what the trial left is released before the rest is copied
        state.update(deep_copy(self.saved, kept))


def _repaired(held: np.ndarray, array: np.ndarray) -> bool:
    """Whether user code (a deepcopy hook) made ``held``, a start value of ``array``, writable; if so its
    bytes are ``array``'s again and it is read-only again (``array``, the private copy's, was not touched)."""
    if not held.flags.writeable:
        return False  # read-only throughout: nothing could write into it
    if not same_bytes(held, array):
        np.copyto(held, array)
    held.setflags(write=False)
    return True


def _plain(value: Any) -> bool:
    """An array that owns its memory and holds numbers: saved by `StateCopy` once, put back itself."""
    return isinstance(value, np.ndarray) and value.flags.owndata and not value.dtype.hasobject


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


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


#: Entries compared at a time by `same_bytes` (the comparison's boolean temporary: 1 MB).
SAME_CHUNK = 1 << 20


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Bitwise equal. Arrays of one numeric dtype and shape are compared as unsigned integers of their
    item size (NaN equals the same NaN, 0.0 differs from -0.0), with no copy of their bytes; contiguous
    ones a chunk at a time (no array-sized temporary), stopping at the first chunk that differs."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return a.shape == b.shape and a.tobytes() == b.tobytes()
    unsigned = _UNSIGNED.get(a.dtype.itemsize)
    if unsigned is None or a.dtype.kind not in "biufc" or not a.size:
        return a.tobytes() == b.tobytes()
    try:
        x, y = a.view(unsigned), b.view(unsigned)
    except ValueError:  # a view of another item size needs a contiguous last axis
        return a.tobytes() == b.tobytes()
    if not (x.flags.c_contiguous and y.flags.c_contiguous):
        return bool(np.array_equal(x, y))
    x, y = x.reshape(-1), y.reshape(-1)
    return all(np.array_equal(x[i:i + SAME_CHUNK], y[i:i + SAME_CHUNK]) for i in range(0, x.size, SAME_CHUNK))


def kept_or_copied(items: list[tuple[str, Any]]) -> dict[str, np.ndarray]:
    """float64 arrays by name from ``(name, value)`` pairs: each value kept as it is where the pair is the only
    reference to it — a float64 array that owns its memory, which no object, view, buffer or weak reference
    of the model's can reach, so no later call of the model can write into it — and copied otherwise (a
    model that returns its ``self.grads`` buffers, or views of one flat gradient).

    Saves the gradient's copy for the common model that returns new arrays from every backward call: a
    parameter-sized allocation, which costs more than the copying (the system hands out and zeroes new
    memory). Python counts every reference (`sys.getrefcount`); the count of a probe array held the same
    way is the count of an array nothing else holds. The caller holds no other reference to the values (a
    dict of them it still refers to counts against keeping them)."""
    out: dict[str, np.ndarray] = {}
    alone = -1
    for name, array in [("", np.empty(1)), *items]:  # first the probe: held by its pair and this loop only
        count = sys.getrefcount(array)
        if alone < 0:
            alone = count
            continue
        mine = (type(array) is np.ndarray and array.dtype == np.float64 and array.flags.owndata
                and count <= alone and weakref.getweakrefcount(array) == 0)
        out[name] = array if mine else np.array(array, dtype=np.float64)
    return out
