"""Gradients a model leaves on itself instead of returning them.

After ``backward(X, y)`` returns ``None``, or after ``forward(X, y)`` then a no-argument ``backward()``
(layers that cache their inputs and accumulate gradients until ``zero_grad()``), the gradient sits in:

* a ``grads`` / ``gradients`` dict on the object;
* beside each parameter: ``dW``, ``grad_W``, ``W_grad``, ``W_diff``, ``dweights`` for ``weights``, or a
  parameter object's ``.grad`` next to its ``.data``;
* a ``grads()`` method returning a list aligned with ``params()`` / ``parameters()``.

The kit calls ``zero_grad()`` (when there is one) before every gradient, so accumulation and growing
caches never mix one call's gradient into the next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from .batch import Batch
from .roles import Call
from .slots import PathSlot, Slot

if TYPE_CHECKING:
    from .object_reader import ObjectReader

__all__ = ["stored_gradient_call"]

ZERO_NAMES = ("zero_grad", "zero_grads", "zerograd", "reset_grads", "clear_grads", "reset_gradients")
LIST_NAMES = (("grads", "params"), ("grads", "parameters"), ("gradients", "params"), ("gradients", "parameters"))


def _beside(slot: Slot) -> Callable[[], Any] | None:
    """A reader of the gradient stored beside a parameter (same owner), if one exists now."""
    if not isinstance(slot, PathSlot) or not slot.path:
        return None
    kind, key = slot.path[-1]
    try:
        owner = slot.owner
    except Exception:
        return None
    if kind == "attr" and key == "data" and isinstance(getattr(owner, "grad", None), np.ndarray):
        return lambda: slot.owner.grad  # the owner is looked up anew: the object may have been replaced
    if kind != "attr":
        return None
    for name in (f"d{key}", f"grad_{key}", f"{key}_grad", f"{key}_diff", f"d_{key}", f"grad{key}"):
        if isinstance(getattr(owner, name, None), np.ndarray):
            return partial(_attribute_of, slot, name)
    return None


def _attribute_of(slot: PathSlot, name: str) -> Any:
    return getattr(slot.owner, name)


def _aligned_lists(target: Any) -> Callable[[], dict[int, Any]] | None:
    """``grads()`` aligned with ``params()``: parameter array id → its gradient."""
    for grads_name, params_name in LIST_NAMES:
        grads, params = getattr(target, grads_name, None), getattr(target, params_name, None)
        if callable(grads) and callable(params):
            def read(grads: Callable[[], Any] = grads, params: Callable[[], Any] = params) -> dict[int, Any]:
                return {id(p): g for p, g in zip(list(params()), list(grads())) if isinstance(p, np.ndarray)}
            return read
    return None


def _zero(target: Any) -> Callable[[], Any] | None:
    for name in ZERO_NAMES:
        method = getattr(target, name, None)
        if callable(method):
            return method
    return None


def _readers(target: Any, pool: list[Slot]) -> tuple[list[Slot], Callable[[], dict[str, Any]]] | None:
    """The parameters with a stored gradient and a reader of those gradients, from the current state."""
    stored = next((getattr(target, a) for a in ("grads", "gradients") if isinstance(getattr(target, a, None), Mapping)),
                  None)
    if stored is not None:
        from .view import gradient_key

        names = {s.name: s for s in pool}
        keyed = {gradient_key(set(names), str(k)): k for k in stored}
        slots = [names[n] for n in keyed if n is not None]
        if slots:
            return slots, lambda: {n: stored[k] for n, k in keyed.items() if n is not None}
    aligned = _aligned_lists(target)
    if aligned is not None:
        by_id = aligned()
        slots = [s for s in pool if id(s.read()) in by_id]
        if slots:
            return slots, lambda: {s.name: aligned().get(id(s.read())) for s in slots}
    beside = {s.name: r for s in pool if (r := _beside(s)) is not None}
    if beside:
        return [s for s in pool if s.name in beside], lambda: {n: r() for n, r in beside.items()}
    return None


def stored_gradient_call(reader: ObjectReader, call: Call | None, batch: Batch, pool: list[Slot]
                         ) -> tuple[Call, Callable[[Any], Mapping[str, Any]], list[Slot]] | None:
    """A gradient call that leaves its result on the object: ``call`` itself when it returned nothing, or
    ``forward(X, y)`` followed by a no-argument ``backward()``. ``None`` if no stored gradient is found."""
    zero = _zero(reader.target)
    if call is None:
        call = _forward_then_backward(reader, batch)
        if call is None:
            return None
    found = _computed(reader, call, batch, pool, zero)
    if found is None and batch.size > 1:  # the user's own last backward may have run on this very batch
        found = _computed(reader, call, batch.take(slice(0, batch.size // 2)), pool, zero)
    if found is None:
        return None
    # a cache with a gradient beside it (nnfs's inputs and dinputs, once a forward has run) is no parameter
    kept = _keeping_nudges(reader, call, batch, found[0], zero)
    slots = [s for s in found[0] if s.name in kept]
    if not slots:
        return None
    names, read_now = {s.name for s in slots}, found[1]
    method = call.method

    def run(*args: Any, **kwargs: Any) -> Any:
        if zero is not None:
            zero()
        method(*args, **kwargs)
        return {k: np.array(v, dtype=np.float64) for k, v in read_now().items() if k in names}

    stored_call = Call(call.name, run, per_example=call.per_example, takes_y=call.takes_y, fixed=call.fixed)
    return stored_call, lambda result: result, slots


def _called(call: Call, batch: Batch) -> None:
    (call.each(batch.take(slice(0, 1))) if call.per_example else call.whole(batch))


def _computed(reader: ObjectReader, call: Call, batch: Batch, pool: list[Slot], zero: Callable[[], Any] | None
              ) -> tuple[list[Slot], Callable[[], dict[str, Any]]] | None:
    """The stored gradients ``call`` computes on ``batch`` (`_readers`), or None: none found, the call raised,
    or they are the very arrays stored before, with the same values (stale: the call did not compute them)."""
    try:
        if zero is not None:
            zero()
        found = _readers(reader.target, pool)
        before = {k: (v, np.array(v, copy=True)) for k, v in found[1]().items()} if found is not None else {}
        _called(call, batch)
        found = _readers(reader.target, pool)
        if found is not None and before and all(
                v is before[k][0] and np.array_equal(np.asarray(v), before[k][1])
                for k, v in found[1]().items() if k in before):
            return None
        return found
    except Exception:
        return None
    finally:
        reader._reset()


#: Entries per array sampled and nudged by `_keeping_nudges` (evenly spaced).
SAMPLE = 1024


def _sample(value: Any) -> np.ndarray:
    flat = np.asarray(value).reshape(-1)
    return np.array(flat[:: max(1, flat.size // SAMPLE)], copy=True)


def _nudged(slot: Slot, rng: np.random.Generator) -> bool:
    """Add a small random change to some entries of the slot's array, in place; False if it cannot be
    changed (read-only, not float)."""
    array = slot.read()
    if not (isinstance(array, np.ndarray) and array.dtype.kind == "f" and array.size and array.flags.writeable):
        return False
    where = np.unravel_index(np.arange(0, array.size, max(1, array.size // SAMPLE)), array.shape)
    scale = 1e-3 * max(1.0, float(np.sqrt(np.mean(np.square(array[where], dtype=np.float64)))))
    array[where] += (scale * rng.choice([-1.0, 1.0], size=where[0].size)).astype(array.dtype)
    return True


#: At most this many slots are nudged one at a time by `_keeping_nudges` (beyond it, only those the call re-binds
#: or writes into: one more gradient call each).
ONE_AT_A_TIME = 64


def _keeping_nudges(reader: ObjectReader, call: Call, batch: Batch, slots: list[Slot],
                    zero: Callable[[], Any] | None) -> set[str]:
    """The names of the slots that are parameters, not caches: a nudge to some of its entries outlives the
    gradient call. A weight carries it into its new value (left alone, re-bound as a float64 copy, decayed or
    stepped in place); a cache is written over from the call's inputs, bitwise as without the nudge (nnfs's
    ``inputs``, a layer's ``self.X[...] = X``). First all slots are nudged at once: one that ends bitwise as
    without is a cache. The others are nudged one at a time (a cache computed from nudged weights differs too).
    Slots that cannot be nudged, and all of them when a call fails, are kept."""
    names = {s.name for s in slots}
    state = np.random.get_state()  # a dropout drawing from numpy's global generator draws the same masks

    def run() -> dict[str, np.ndarray]:
        np.random.set_state(state)
        if zero is not None:
            zero()
        _called(call, batch)
        return {s.name: _sample(s.read()) for s in slots}

    try:
        start = {s.name: (s.read(), _sample(s.read()), np.shape(s.read())) for s in slots}
        plain = run()
        after = {s.name: (s.read(), np.shape(s.read())) for s in slots}
        reader._reset()
        for slot in slots:  # re-shaped by the call: a cache of its inputs
            if after[slot.name][1] != start[slot.name][2]:
                names.discard(slot.name)
        rng = np.random.default_rng(0x6B1D)
        nudgeable = [s for s in slots if s.name in names and _nudged(s, rng)]
        together = run()
        reader._reset()
        ambiguous = []
        for slot in nudgeable:
            if np.array_equal(together[slot.name], plain[slot.name], equal_nan=True):
                names.discard(slot.name)
                continue
            value, sample, _ = start[slot.name]
            rewritten = after[slot.name][0] is not value or not np.array_equal(plain[slot.name], sample, equal_nan=True)
            ambiguous.append((slot, rewritten))
        if len(ambiguous) > ONE_AT_A_TIME:
            ambiguous = [(slot, True) for slot, rewritten in ambiguous if rewritten]
        for slot, _ in ambiguous:
            if _nudged(slot, rng) and np.array_equal(run()[slot.name], plain[slot.name], equal_nan=True):
                names.discard(slot.name)
            reader._reset()
        return names
    except Exception:
        return {s.name for s in slots}
    finally:
        reader._reset()
        np.random.set_state(state)


def _forward_then_backward(reader: ObjectReader, batch: Batch) -> Call | None:
    """``forward(X, y)`` (or ``loss``) then ``backward()`` with no arguments, when the object has both."""
    target = reader.target
    backward = getattr(target, "backward", None)
    if not callable(backward):
        return None
    for name in ("forward", "loss", "__call__"):
        forward = getattr(target, name, None)
        if not callable(forward):
            continue
        call = Call(name, forward)
        try:
            call.whole(batch)
            backward()
        except Exception:
            continue
        finally:
            reader._reset()

        def both(*args: Any, forward: Callable[..., Any] = forward, **kwargs: Any) -> Any:
            forward(*args, **kwargs)
            return backward()

        return Call(f"{name}+backward", both)
    return None
