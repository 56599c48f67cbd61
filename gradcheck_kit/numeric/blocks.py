"""Many entries of one tensor at once: their losses taken in one tight loop, and judged together.

An exhaustive check evaluates the loss twice per entry, tens of thousands of times, so whatever is done
around each evaluation counts. `take_losses` moves one entry after another and evaluates the loss inside
one `LossLoop` (which sets up, once, what every evaluation needs: numpy's error settings, the resolved
call), with nothing else between two evaluations; progress is reported every `REPORT_SECONDS`, not per
evaluation. `plain_passes` then computes `judge`'s first comparison for all the entries together — the
same operations in the same order, so bitwise the same numbers — and says which entries it passes; every
other entry (a disagreement to re-test, a kink, a value that is not finite) is left to `judge` itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import numpy as np

from .tolerance import Tolerance

__all__ = ["REPORT_SECONDS", "LossLoop", "Losses", "PlainPasses", "plain_passes", "take_losses"]

#: ``loop()`` opens a stretch of evaluations and yields the function that evaluates the loss inside it.
LossLoop = Callable[[], AbstractContextManager[Callable[[], float]]]
#: Loss evaluations are reported to the progress callback at most this often (seconds), and at the end.
REPORT_SECONDS = 0.1


@dataclass
class Losses:
    """The losses at ``x_i + h`` (``plus``) and ``x_i - h`` (``minus``) of the entries taken so far, in
    order (after an interruption, the first `complete` entries have both), and the step taken for each
    entry in floating point, ``((x + h) - (x - h)) / 2``, as `Perturber.entry` takes it."""

    plus: list[float] = field(default_factory=list)
    minus: list[float] = field(default_factory=list)
    taken: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def complete(self) -> int:
        return len(self.minus)


def take_losses(work: np.ndarray, saved: np.ndarray, indices: np.ndarray, step: float, loop: LossLoop,
                into: Losses, on_eval: Callable[[int], None] | None = None) -> None:
    """Move each entry of ``work`` at the flat ``indices`` to ``x + h`` and ``x - h`` in turn, evaluating
    the loss at each, and put it back to its value in ``saved`` (bitwise; also when the loss raises).
    The losses go to ``into`` as they come."""
    centre = saved.reshape(-1)[indices]
    h = work.dtype.type(step)
    up, down = centre + h, centre - h
    into.taken = (up - down).astype(np.float64) / 2
    if work.dtype == np.float64:  # Python floats are the same doubles, and faster to write
        ups, downs, xs = up.tolist(), down.tolist(), centre.tolist()
    else:
        ups, downs, xs = list(up), list(down), list(centre)
    flat = work.reshape(-1) if work.flags.c_contiguous else work.flat
    plus, minus = into.plus, into.minus
    clock = time.perf_counter
    due = clock() + REPORT_SECONDS
    reported = 0
    index, x = -1, xs[0] if xs else 0.0
    try:
        with loop() as loss:
            for index, u, d, x in zip(indices.tolist(), ups, downs, xs, strict=True):
                flat[index] = u
                plus.append(loss())
                flat[index] = d
                minus.append(loss())
                flat[index] = x
                if on_eval is not None and clock() >= due:
                    done = len(plus) + len(minus)
                    on_eval(done - reported)
                    reported, due = done, clock() + REPORT_SECONDS
    finally:
        if index >= 0:
            flat[index] = x  # the entry in progress when the loss raised (a no-op after the last one)
        if on_eval is not None and len(plus) + len(minus) > reported:
            on_eval(len(plus) + len(minus) - reported)


@dataclass(frozen=True)
class PlainPasses:
    """`judge`'s first comparison for many entries: ``passed`` marks the entries it passes with no
    re-test; for those, ``numeric``, ``rel_error`` and ``bound`` are the values `judge` gives them."""

    passed: np.ndarray
    numeric: np.ndarray
    rel_error: np.ndarray
    bound: np.ndarray


def plain_passes(analytic: np.ndarray, base: float, plus: np.ndarray, minus: np.ndarray, taken: np.ndarray, *,
                 tolerance: Tolerance, rtol: float, dtype: np.dtype, loss_noise: float = 0.0,
                 random: bool = False) -> PlainPasses:
    """`judge`'s plain pass (the estimate finite, the analytic value finite, ``|a - n|`` within the bound,
    not inside the noise of a random loss) for every entry at once, with `Estimate.from_losses`'s and
    `judge`'s arithmetic in the same order. Whatever is not finite fails a comparison here and is left
    to `judge`, which decides it as it always has."""
    with np.errstate(all="ignore"):  # inf and nan here only mark entries that `judge` decides
        central = (plus - minus) / (2 * taken)
        forward = (plus - base) / taken
        backward = (base - minus) / taken
        scale = np.maximum(np.maximum(abs(base), np.abs(plus)), np.abs(minus))
        noise = tolerance.noises(dtype, scale, taken, loss_noise)
        floor = np.maximum(tolerance.atol or 0.0, noise)
        bound = tolerance.bounds(analytic, central, rtol=rtol, noise=noise)
        error = np.abs(analytic - central)
        largest = np.maximum(np.abs(analytic), np.abs(central))
        passed = np.isfinite(central) & np.isfinite(forward) & np.isfinite(backward) & np.isfinite(analytic)
        passed &= error <= bound
        if random:
            passed &= ~(largest <= noise)
        rel_error = error / np.maximum(np.maximum(largest, floor), 1e-300)
    return PlainPasses(passed, central, rel_error, bound)
