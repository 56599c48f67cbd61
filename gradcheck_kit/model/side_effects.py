"""Side effects a check must know about before trusting any difference: a model that writes into its
input, changes its own weights while computing a loss, or whose backward reads state left by the
previous forward call instead of the batch it is given.

The inspection costs a few calls on the private copy. A detected side effect is reported (as a finding) and
neutralised for the rest of the check: inputs are then passed as fresh copies, and weights changed by a
call are put back, so the gradient verdicts stay about the gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .batch import Batch
from .copies import same_bytes
from .view import ModelView

__all__ = ["SideEffects", "inspect_side_effects"]


@dataclass(frozen=True)
class SideEffects:
    """What the inspection saw. ``*_call`` name the call that did it; ``*_change`` the largest change."""

    mutated_input_call: str = ""
    mutated_input_change: float = 0.0
    mutated_params_call: str = ""
    mutated_params: tuple[str, ...] = ()
    mutated_params_change: float = 0.0
    stale_backward_change: float = 0.0
    #: a call that re-bound a weight to a new array of the same values (harmless, but the kit must bind its
    #: working arrays again after every call)
    rebinds_call: str = ""

    @property
    def mutates_input(self) -> bool:
        return bool(self.mutated_input_call)

    @property
    def mutates_params(self) -> bool:
        return bool(self.mutated_params_call)

    @property
    def stale_backward(self) -> bool:
        return self.stale_backward_change > 0


def _max_change(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    if not a.size:
        return 0.0
    with np.errstate(invalid="ignore"):
        if a.dtype.kind == "c" or b.dtype.kind == "c":  # complex inputs: |a − b| as a new real array
            diff = np.abs(np.subtract(a, b, dtype=np.complex128))
        else:
            diff = np.subtract(a, b, dtype=np.float64)
            np.abs(diff, out=diff)
    # fmax skips NaN (NaN compared with NaN is no change) without a masked copy; NaN only if all are NaN
    largest = float(np.fmax.reduce(diff, axis=None))
    return 0.0 if math.isnan(largest) else largest


def _params_changed(view: ModelView, reference: Mapping[str, np.ndarray]) -> tuple[list[str], float]:
    """Parameters whose current value differs from ``reference`` (one tensor copied at a time)."""
    changed, largest = [], 0.0
    for name, before in reference.items():
        now = view.current_one(name)
        if not same_bytes(now, before) and not np.array_equal(now, before, equal_nan=True):
            changed.append(name)
            largest = max(largest, _max_change(now, before))
    return changed, largest


#: Entries per tensor the stale-backward probe keeps from a gradient (evenly spaced; all of a smaller
#: tensor): a backward that reuses another batch's activations changes nearly every entry, and keeping a
#: sample instead of a third full gradient keeps the probe's memory at that of the check itself.
STALE_SAMPLE = 4096


def _sampled(grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for name, g in grads.items():
        flat = np.asarray(g).reshape(-1)
        picks = np.linspace(0, flat.size - 1, STALE_SAMPLE).astype(np.intp) if flat.size > STALE_SAMPLE else slice(None)
        out[name] = np.array(flat[picks], dtype=np.float64)
    return out


def _gradient_change(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> float:
    return max(_max_change(first[n], second[n]) for n in first)


def _writes(view: ModelView, batch: Batch, found: dict[str, object], baseline: Mapping[str, np.ndarray]) -> None:
    """Calls that write into their inputs, and loss/forward calls that move the weights."""
    X, y = batch.X, batch.y
    calls: list[tuple[str, Callable[[Batch], object]]] = [("loss", view._loss)]
    if view.can_predict:
        calls.append(("forward", view._predict))
    calls.append(("gradient", view._gradients))  # discarded at once: no copy
    for name, call in calls:
        Xw, yw = np.array(X), np.array(y)  # writable copies
        call(batch.with_arrays(Xw, yw))
        if not found.get("mutated_input_call") and not (same_bytes(Xw, X) and same_bytes(yw, y)):
            found["mutated_input_call"] = name
            found["mutated_input_change"] = max(_max_change(Xw, X), _max_change(yw, y))
        del Xw, yw
        if not found.get("rebinds_call") and not view.slots_hold_params():
            found["rebinds_call"] = name
        if name != "gradient" and not found.get("mutated_params_call"):
            changed, largest = _params_changed(view, baseline)
            if changed:
                found["mutated_params_call"] = name
                found["mutated_params"] = tuple(changed)
                found["mutated_params_change"] = largest
            elif not found.get("rebinds_call"):
                continue  # every weight is where and what it was: nothing to put back (a parameter-sized copy)
        view.load(baseline)


def _stale_backward(view: ModelView, batch: Batch, copy_inputs: bool) -> float:
    """How much the gradient for the same batch changes after a forward call on another batch (0 when
    backward recomputes from the batch it is given): the largest change over the sampled entries
    (`STALE_SAMPLE` per tensor) relative to the largest gradient entry."""
    def inputs() -> Batch:
        return batch.with_arrays(np.array(batch.X), np.array(batch.y)) if copy_inputs else batch

    view._loss(inputs())
    full = view._gradients(inputs())  # compared or sampled at once, never kept
    scale = max((max(float(np.max(g)), -float(np.min(g))) for g in full.values() if g.size), default=0.0) or 1.0
    first = _sampled(full)
    del full
    view._loss(inputs())
    # only a deterministic backward can be judged stale (a random one differs call to call anyway)
    again = _sampled(view._gradients(inputs()))
    if _gradient_change(first, again) > 1e-12 * scale or batch.X.dtype.kind != "f":
        return 0.0
    view._loss(batch.with_arrays(np.array(batch.X * 0.5 + 0.25), np.array(batch.y)))
    change = _gradient_change(first, _sampled(view._gradients(inputs())))
    return change / scale if change > 1e-9 * scale else 0.0


def inspect_side_effects(view: ModelView, batch: Batch, baseline: Mapping[str, np.ndarray] | None = None
                         ) -> SideEffects:
    """Inspect the model's calls for side effects; leaves the working parameters as it found them.
    ``baseline``: the working parameters' values, bitwise, held by the caller (only read); a copy is taken
    when not given."""
    found: dict[str, object] = {}
    baseline = view.snapshot() if baseline is None else dict(baseline)
    try:
        _writes(view, batch, found, baseline)
        if view.separate_backward:
            found["stale_backward_change"] = _stale_backward(view, batch, bool(found.get("mutated_input_call")))
    finally:
        view.load(baseline)
    return SideEffects(**found)  # type: ignore[arg-type]
