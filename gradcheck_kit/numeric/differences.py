"""Central differences of a loss along one entry or one direction of a tensor, and their verdict.

The tensor is moved in place and always restored bitwise (the saved copy is written back, never
``x + h - h``). Each estimate keeps its one-sided differences: when they disagree by more than the
discrepancy to explain, the step crossed a kink (ReLU, max, abs) and the entry is *inconclusive*, not
failed — also when the analytic subgradient lies outside both one-sided slopes, as nested ReLUs at exact
zeros give. Which it is, is decided from evidence: the stencil is re-measured at h/16; a kink at the point
itself keeps its slope jump, while curvature's shrinks 16-fold and a kink the stencil merely crossed
disappears — the small step then judges (a failure confirmed at h/256), so a real error next to a kink is
still caught. A discrepancy that a smooth function's O(h²) truncation could
explain is re-tested with Richardson extrapolation from a second step 2h before it counts as a failure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .axpy import put_moved
from .tolerance import Tolerance

__all__ = ["Estimate", "Judgement", "Perturber", "Status", "judge"]

Status = Literal["pass", "fail", "inconclusive"]


@dataclass(frozen=True)
class Estimate:
    """Finite-difference derivative estimates from losses at +step, 0 and -step."""

    central: float
    forward: float
    backward: float
    step: float
    loss_scale: float

    @classmethod
    def from_losses(cls, base: float, plus: float, minus: float, step: float) -> Estimate:
        return cls(
            central=(plus - minus) / (2 * step),
            forward=(plus - base) / step,
            backward=(base - minus) / step,
            step=step,
            loss_scale=max(abs(base), abs(plus), abs(minus)),
        )

    @property
    def finite(self) -> bool:
        return math.isfinite(self.central) and math.isfinite(self.forward) and math.isfinite(self.backward)


@dataclass(frozen=True)
class Judgement:
    """Verdict on one analytic value against its estimate."""

    status: Status
    analytic: float
    numeric: float
    rel_error: float
    bound: float
    reason: str = ""


def _rel(a: float, n: float, floor: float) -> float:
    return abs(a - n) / max(abs(a), abs(n), floor, 1e-300)


def judge(
    analytic: float,
    estimate: Estimate,
    *,
    tolerance: Tolerance,
    rtol: float,
    dtype: np.dtype,
    refine: Callable[[], Estimate] | None = None,
    zoom: Callable[[float], Estimate] | None = None,
    loss_noise: float = 0.0,
    random: bool = False,
) -> Judgement:
    """Compare one analytic derivative with its central-difference estimate (see module docstring).

    ``refine`` re-estimates with step 2h (for Richardson extrapolation), ``zoom(k)`` with step h/k (to
    tell a kink at the point itself from one the stencil merely crosses, or from strong curvature).
    ``loss_noise`` is the loss's measured noise σ; with ``random`` (the loss is not deterministic) an
    entry whose values sit inside the noise floor is inconclusive rather than passed.
    """
    if not estimate.finite:
        return Judgement("inconclusive", analytic, estimate.central, math.nan, math.nan,
                         "the loss was not finite at a perturbed point")
    if not math.isfinite(analytic):
        return Judgement("fail", analytic, estimate.central, math.inf, math.nan, "the analytic value is not finite")
    noise = tolerance.noise(dtype, estimate.loss_scale, estimate.step, loss_noise)
    floor = max(tolerance.atol or 0.0, noise)
    numeric = estimate.central
    bound = tolerance.bound(analytic, numeric, rtol=rtol, noise=noise)
    error = abs(analytic - numeric)
    if random and max(abs(analytic), abs(numeric)) <= noise:
        return Judgement("inconclusive", analytic, numeric, _rel(analytic, numeric, floor), bound,
                         "inside the noise of a non-deterministic loss")
    if error <= bound:
        return Judgement("pass", analytic, numeric, _rel(analytic, numeric, floor), bound)
    spread = abs(estimate.forward - estimate.backward)
    if refine is not None:
        wide = refine()
        if wide.finite:
            extrapolated = (4 * numeric - wide.central) / 3
            wide_bound = tolerance.bound(analytic, extrapolated, rtol=rtol, noise=2 * noise)
            smooth = abs(wide.central - numeric) <= 4 * max(bound, error)  # no jump between h and 2h
            if smooth and abs(analytic - extrapolated) <= wide_bound:
                return Judgement("pass", analytic, extrapolated, _rel(analytic, extrapolated, floor), wide_bound,
                                 "agrees after Richardson extrapolation (steps h, 2h)")
    if spread > bound and zoom is not None:
        return _judge_kink(analytic, estimate, zoom, tolerance=tolerance, rtol=rtol, dtype=dtype,
                           loss_noise=loss_noise, floor=floor)
    if spread > bound and error <= spread:
        return _kink(analytic, estimate, bound, floor)
    return Judgement("fail", analytic, numeric, _rel(analytic, numeric, floor), bound)


def _kink(analytic: float, estimate: Estimate, bound: float, floor: float) -> Judgement:
    return Judgement(
        "inconclusive", analytic, estimate.central, _rel(analytic, estimate.central, floor), bound,
        f"non-differentiable point: one-sided differences disagree ({estimate.forward:.3g} vs "
        f"{estimate.backward:.3g})",
    )


def _spread(est: Estimate) -> float:
    return abs(est.forward - est.backward)


def _jumps(previous: Estimate, est: Estimate, tolerance: Tolerance, dtype: np.dtype, loss_noise: float) -> bool:
    """The one-sided slopes at ``est``'s step (16× smaller) still disagree by more than an eighth of what
    they did at ``previous``'s, measurably at both steps: a kink inside the stencil. Curvature shrinks the
    disagreement 16-fold, noise is random from step to step, a kink at the point keeps it — even one whose
    two slopes nearly agree (ReLUs at exact zeros whose contributions on either side almost cancel).
    "Measurably" is against the noise's own size (about a tenth of the tolerance's floor, which is
    deliberately wide for agreement)."""
    def measurable(e: Estimate, times: float) -> bool:
        noise = 2 * tolerance.noise(dtype, e.loss_scale, e.step, loss_noise) / 10
        return _spread(e) > times * noise

    return measurable(previous, 4) and measurable(est, 2) and _spread(est) > _spread(previous) / 8


def _judge_kink(analytic: float, estimate: Estimate, zoom: Callable[[float], Estimate], *, tolerance: Tolerance,
                rtol: float, dtype: np.dtype, loss_noise: float, floor: float) -> Judgement:
    """The one-sided slopes at step h disagree beyond the tolerance. At h/16 a smooth function's slope
    difference shrinks 16-fold (it is h·curvature), while a kink the stencil still crosses — at the point
    itself, or nearer than h/16 — keeps a measurable part of it: then no difference can judge the analytic
    (sub)gradient there, and the entry is inconclusive, wherever the analytic value lies. Otherwise the
    small step judges; a failure there is confirmed at h/256 the same way."""
    small = zoom(16)
    if not small.finite or _jumps(estimate, small, tolerance, dtype, loss_noise):
        return _kink(analytic, estimate, tolerance.bound(analytic, estimate.central, rtol=rtol, noise=floor), floor)
    judged = _at(analytic, small, tolerance=tolerance, rtol=rtol, dtype=dtype, loss_noise=loss_noise, floor=floor)
    if judged.status == "pass":
        return judged
    tiny = zoom(256)
    if not tiny.finite or _jumps(small, tiny, tolerance, dtype, loss_noise):
        return _kink(analytic, small, judged.bound, floor)
    return _at(analytic, tiny, tolerance=tolerance, rtol=rtol, dtype=dtype, loss_noise=loss_noise, floor=floor)


def _at(analytic: float, est: Estimate, *, tolerance: Tolerance, rtol: float, dtype: np.dtype, loss_noise: float,
        floor: float) -> Judgement:
    """The verdict at a smaller step than h, which the step h could not give (it crossed a kink, or
    curvature spread its one-sided slopes)."""
    noise = tolerance.noise(dtype, est.loss_scale, est.step, loss_noise)
    bound = tolerance.bound(analytic, est.central, rtol=rtol, noise=noise)
    status: Status = "pass" if abs(analytic - est.central) <= bound else "fail"
    return Judgement(status, analytic, est.central, _rel(analytic, est.central, floor), bound,
                     f"judged at a smaller step ({est.step:.2g}): the step h crossed a non-differentiable point or "
                     f"strong curvature")


class Perturber:
    """Evaluates ``loss()`` with one working tensor moved; restores the tensor bitwise afterwards."""

    def __init__(
        self, work: np.ndarray, loss: Callable[[], float], on_eval: Callable[[int], None] | None = None,
        saved: np.ndarray | None = None,
    ) -> None:
        self.work = work
        #: ``work``'s values, bitwise: the caller's copy when given (only read), else one taken here
        self.saved = work.copy() if saved is None else saved
        self._loss = loss
        self.on_eval = on_eval

    def _evaluate(self) -> float:
        value = self._loss()
        if self.on_eval is not None:
            self.on_eval(1)
        return value

    def entry(self, flat_index: int, step: float) -> tuple[float, float, float]:
        """Losses at ``x_i + h`` and ``x_i - h``, and the step actually taken in floating point."""
        work, saved = self.work, self.saved
        x = saved.flat[flat_index]
        up, down = x + work.dtype.type(step), x - work.dtype.type(step)
        try:
            work.flat[flat_index] = up
            plus = self._evaluate()
            work.flat[flat_index] = down
            minus = self._evaluate()
        finally:
            work.flat[flat_index] = x
        return plus, minus, float(up - down) / 2

    def direction(self, unit: np.ndarray, step: float) -> tuple[float, float, float]:
        """Losses at ``x + h u`` and ``x - h u`` for a unit-norm direction ``u``."""
        work, saved = self.work, self.saved
        # x ± h·u written straight into the working tensor (h·u rounded to its dtype, then added: the same
        # values as forming h·u first, with no tensor-sized temporary)
        h = float(step)
        try:  # the product in float64 also for a float32 direction (numpy 1.x would pick float32's loop)
            put_moved(work, saved, h, unit)
            plus = self._evaluate()
            put_moved(work, saved, -h, unit)
            minus = self._evaluate()
        finally:
            np.copyto(work, saved)
        return plus, minus, step
