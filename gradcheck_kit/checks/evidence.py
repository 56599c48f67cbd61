"""Shared evidence: analyses more than one check reads, computed once per run (cached on the `Context`).
(Which output delta the gradient was built from is in `deltas`.)

* the weight-decay fit: a common ``c`` with ``analytic − numeric ≈ c·W``;
* the inputs' scale; the top Hessian eigenvalue of what the analytic gradient descends.

Functions here take plain values (not the context), so each is testable on its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..measure.hessian import gradient_differences
from ..model.batch import Batch
from ..model.view import ModelView
from ..numeric.comparison import TensorCheck
from ..numeric.curvature import top_eigenvalue
from ..numeric.fitting import EXPLAINED, fit_scale, near
from .findings import format_number as fmt

__all__ = ["InputScale", "WeightDecay", "curvature", "input_scale", "weight_decay_fit"]


@dataclass(frozen=True)
class WeightDecay:
    """A common coefficient ``c`` with ``analytic − numeric ≈ c·W`` and the tensors it explains."""

    coefficient: float = math.nan
    params: tuple[str, ...] = ()


def weight_decay_fit(tensors: Sequence[TensorCheck], params: Mapping[str, np.ndarray]) -> WeightDecay:
    """Fit ``analytic − numeric = c·W`` on each failing tensor; keep the tensors that share one ``c``."""
    fits = []
    for t in tensors:
        index, a, n = t.decisive_arrays()
        if t.verdict != "fail" or n.size < 2:
            continue
        scale, residual = fit_scale(a - n, params[t.param][index])
        if residual < EXPLAINED and math.isfinite(scale) and scale != 0:
            fits.append((t.param, scale))
    if not fits:
        return WeightDecay()
    c = float(np.median([f[1] for f in fits]))
    return WeightDecay(c, tuple(p for p, f in fits if near(f / c, 1.0)))


@dataclass(frozen=True)
class InputScale:
    """The inputs' range and spread; ``unnormalised`` when they are on a scale of tens or more."""

    low: float
    high: float
    std: float
    unnormalised: bool
    description: str

    @property
    def divide_by(self) -> str:
        """How to bring these inputs to unit range, with their own numbers (``X / 16`` for 0..16 pixels)."""
        if self.low >= 0 and math.isfinite(self.high) and self.high > 0:
            top = int(self.high) if float(self.high).is_integer() else self.high
            return f"X / {top:.4g} — their maximum — or (X - mean) / std per feature, fit on the training set"
        return "(X - mean) / std per feature, fit on the training set"


def input_scale(X: np.ndarray) -> InputScale:
    """Whether inputs look unnormalised, and a short description with the numbers."""
    if X.dtype.kind not in "fiu":
        return InputScale(math.nan, math.nan, math.nan, False, "")
    if X.dtype.kind in "iu" and X.reshape(len(X), -1).shape[1] == 1:  # one integer per example: token or class
        return InputScale(math.nan, math.nan, math.nan, False, "")  # indices (min-char-rnn), not a scale to normalise
    with np.errstate(all="ignore"):
        lo, hi, std = float(X.min()), float(X.max()), float(np.std(X, dtype=np.float64))
    unnormalised = max(abs(lo), abs(hi)) > 20 or std > 3
    whole = bool(np.all(np.round(X) == X))
    pixels = " (raw 0–255 pixel values?)" if unnormalised and whole and lo >= 0 and 100 < hi <= 255 else ""
    return InputScale(lo, hi, std, unnormalised,
                      f"inputs range over {fmt(lo, 3)}..{fmt(hi, 3)} with std {fmt(std, 3)}{pixels}")


def curvature(view: ModelView, batch: Batch, *, seed: int, eps: float | None) -> tuple[float, int]:
    """Top Hessian eigenvalue of the loss the analytic gradient descends, and the gradient calls it took."""
    with gradient_differences(view, batch) as (n, scale, difference):
        return top_eigenvalue(difference, n, scale=scale, rng=np.random.default_rng(seed + 2), eps=eps)

