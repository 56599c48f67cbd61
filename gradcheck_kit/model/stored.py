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
    target = reader.target
    zero = _zero(target)
    if call is None:
        call = _forward_then_backward(reader, batch)
        if call is None:
            return None
    rewritten: set[str] = set()  # arrays the call re-bound or wrote into
    try:
        if zero is not None:
            zero()
        found = _readers(target, pool)
        before = {k: (v, np.array(v, copy=True)) for k, v in found[1]().items()} if found is not None else {}
        arrays = _fingerprints(pool)
        (call.each(batch.take(slice(0, 1))) if call.per_example else call.whole(batch))
        found = _readers(target, pool)
        rewritten = _rewritten(found[0], arrays) if found is not None else set()
        # the same arrays holding the same values: the call did not compute them, whatever is stored is stale
        # (new arrays are new gradients, though equal to the stored ones when the user's own last backward
        # ran on this batch)
        if found is not None and before and all(
                v is before[k][0] and np.array_equal(np.asarray(v), before[k][1])
                for k, v in found[1]().items() if k in before):
            found = None
    except Exception:
        found = None
    finally:
        reader._reset()
    if found is None:
        return None
    # a cache with a gradient beside it (nnfs's inputs and dinputs, once a forward has run) is no parameter:
    # the call rewrites it, and the outputs do not move with it (a weight feeding only dead units does not move
    # them either, but the call leaves it alone)
    slots = [s for s in found[0] if s.name not in rewritten or reader._loss_depends_on(s, batch)]
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


#: Entries per array compared before and after the gradient call by `_fingerprints` (evenly spaced).
SAMPLE = 1024


def _fingerprints(slots: list[Slot]) -> dict[str, tuple[Any, np.ndarray]]:
    """Each slot's array and a copy of some of its entries, to tell afterwards which a call re-bound or wrote."""
    out = {}
    for slot in slots:
        try:
            value = slot.read()
            flat = np.asarray(value).reshape(-1)
            out[slot.name] = (value, np.array(flat[:: max(1, flat.size // SAMPLE)], copy=True))
        except Exception:
            continue
    return out


def _rewritten(slots: list[Slot], before: dict[str, tuple[Any, np.ndarray]]) -> set[str]:
    out = set()
    for slot in slots:
        if slot.name not in before:
            continue
        value, sample = before[slot.name]
        flat = np.asarray(slot.read()).reshape(-1)
        if slot.read() is not value or not np.array_equal(flat[:: max(1, flat.size // SAMPLE)], sample,
                                                            equal_nan=True):
            out.add(slot.name)
    return out


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
