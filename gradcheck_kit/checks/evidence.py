"""Shared evidence: analyses more than one check reads, computed once per run (cached on the `Context`).

* output-delta fits: which output delta (``o − t``, the elementwise doubled form ``(o − t)·o·(1 − o)``,
  the Jacobian form ``J_softmaxᵀ(o − t)``) explains the analytic gradient, from the output bias (whose
  gradient is the batch sum of the delta) and from directional derivatives over the whole model;
* the weight-decay fit: a common ``c`` with ``analytic − numeric ≈ c·W``;
* the inputs' scale; the top Hessian eigenvalue of what the analytic gradient descends.

Functions here take plain values (not the context), so each is testable on its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..measure.directions import DirectionalDerivative, OutputFunction
from ..measure.outputs import Outputs
from ..measure.replay import flat_gradient
from ..model.batch import Batch
from ..model.view import ModelView
from ..numeric.comparison import TensorCheck
from ..numeric.curvature import top_eigenvalue
from ..numeric.fitting import EXPLAINED, fit_scale, near
from .findings import format_number as fmt

__all__ = [
    "DeltaFit",
    "InputScale",
    "WeightDecay",
    "combine_fits",
    "curvature",
    "delta_functions",
    "direction_fits",
    "input_scale",
    "output_bias",
    "output_bias_fits",
    "weight_decay_fit",
]


@dataclass(frozen=True)
class DeltaFit:
    """How well a candidate output delta explains the analytic gradient."""

    hypothesis: str
    scale: float
    residual: float
    source: str
    agree: bool = True

    @property
    def explains(self) -> bool:
        """Residual below `EXPLAINED` on every source, with one scale."""
        return self.agree and self.residual < EXPLAINED


def output_bias(outputs: Outputs | None, output_tensors: Sequence[TensorCheck]) -> TensorCheck | None:
    """The output layer's bias: its one tensor of shape (K,)."""
    if outputs is None:
        return None
    candidates = [t for t in output_tensors if t.shape == (outputs.n_classes,)]
    return candidates[0] if len(candidates) == 1 else None


def output_bias_fits(outputs: Outputs, bias: TensorCheck, analytic: np.ndarray, batch_size: int) -> dict[str, DeltaFit]:
    """Fit candidate deltas to the output-bias gradient: g_b = c · Σ_i δ_i / B + (numeric − correct)."""
    if bias.checked < bias.size:
        return {}
    p, t = outputs.probabilities, outputs.targets
    numeric = np.empty(bias.size)
    numeric[bias.table.flat] = bias.table.numeric
    correct = (p - t).sum(axis=0) / batch_size
    rest = numeric - correct  # e.g. regularisation of the bias, usually 0
    candidates = {
        "correct": correct,
        "elementwise": ((p - t) * p * (1 - p)).sum(axis=0) / batch_size,
        "jacobian": (p * ((p - t) - np.sum((p - t) * p, axis=1, keepdims=True))).sum(axis=0) / batch_size,
    }
    return {name: DeltaFit(name, *fit_scale(analytic.reshape(-1) - rest, delta), f"output bias {bias.param}")
            for name, delta in candidates.items()}


def delta_functions(outputs: Outputs | None, batch_size: int) -> dict[str, OutputFunction]:
    """Candidate losses of the outputs, for directional derivatives: ``ce`` (mean cross-entropy), ``mse``
    (mean ½‖softmax − t‖², whose gradient is J_softmaxᵀ(o − t)) and ``elem`` (mean ⟨δ, z⟩ for the fixed
    elementwise delta δ = (o − t)·o·(1 − o))."""
    if outputs is None:
        return {}
    out, t, p0 = outputs, outputs.targets, outputs.probabilities
    delta_elem = (p0 - t) * p0 * (1 - p0)
    return {
        "ce": out.mean_cross_entropy,
        "mse": lambda raw: float(0.5 * np.sum((out.probs_of(raw) - t) ** 2) / batch_size),
        "elem": lambda raw: float(np.sum(delta_elem * out.logits_of(raw)) / batch_size),
    }


def direction_fits(directions: Sequence[DirectionalDerivative], outputs: Outputs | None) -> dict[str, DeltaFit]:
    """Fit candidate losses to whole-model directional derivatives: a_v − r_v ≈ c · d_v(candidate), over
    the directions that cross no kink (at least two are needed)."""
    directions = [d for d in directions if d.smooth]
    if len(directions) < 2 or not directions[0].outputs:
        return {}
    a = np.array([d.analytic for d in directions])
    ce = np.array([d.outputs["ce"] for d in directions])
    rest = np.array([d.loss for d in directions]) - ce  # the loss minus its cross-entropy part (e.g. L2)
    source = "directional probes"
    fits = {"correct": DeltaFit("correct", *fit_scale(a - rest, ce), source),
            "jacobian": DeltaFit("jacobian", *fit_scale(a - rest, np.array([d.outputs["mse"] for d in directions])),
                                 source)}
    if outputs is not None and outputs.are_scores:  # exact logits: the elementwise delta is testable
        elem = np.array([d.outputs["elem"] for d in directions])
        fits["elementwise"] = DeltaFit("elementwise", *fit_scale(a - rest, elem), source)
    return fits


def combine_fits(per_source: Sequence[Mapping[str, DeltaFit]]) -> dict[str, DeltaFit]:
    """Per hypothesis over all sources: it explains the gradient only if it explains every source (the
    worst residual counts) with one scale (sources that disagree on the scale count as unexplained)."""
    combined: dict[str, DeltaFit] = {}
    sources = [fits for fits in per_source if fits]
    for name in ("correct", "elementwise", "jacobian"):
        fits = [f[name] for f in sources if name in f]
        if not fits:
            continue
        scales = [f.scale for f in fits]
        worst = max(fits, key=lambda f: f.residual)
        combined[name] = DeltaFit(name, scales[0], worst.residual, " and ".join(f.source for f in fits),
                                  agree=all(near(s, scales[0]) for s in scales))
    return combined


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


def input_scale(X: np.ndarray) -> InputScale:
    """Whether inputs look unnormalised, and a short description with the numbers."""
    if X.dtype.kind not in "fiu":
        return InputScale(math.nan, math.nan, math.nan, False, "")
    with np.errstate(all="ignore"):
        lo, hi, std = float(X.min()), float(X.max()), float(np.std(X, dtype=np.float64))
    unnormalised = max(abs(lo), abs(hi)) > 20 or std > 3
    whole = bool(np.all(np.round(X) == X))
    pixels = " (raw 0–255 pixel values?)" if unnormalised and whole and lo >= 0 and 100 < hi <= 255 else ""
    return InputScale(lo, hi, std, unnormalised,
                      f"inputs range over {fmt(lo, 3)}..{fmt(hi, 3)} with std {fmt(std, 3)}{pixels}")


def curvature(view: ModelView, batch: Batch, *, seed: int, eps: float | None) -> tuple[float, int]:
    """Top Hessian eigenvalue of the loss the analytic gradient descends, and the gradient calls it took."""
    theta, gradient = flat_gradient(view, batch)
    return top_eigenvalue(gradient, theta, rng=np.random.default_rng(seed + 2), eps=eps)

