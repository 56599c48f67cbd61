"""Which output delta the analytic gradient was built from — for every common output and loss pair.

First the output model is identified from evidence: the activation from the outputs' range (softmax rows,
sigmoid in (0, 1), tanh in (−1, 1), linear), the loss and its reduction from the model's own loss value
(cross-entropy, binary cross-entropy, squared error with or without its ½; averaged over the examples,
summed, or averaged over every output of every example). Then candidate deltas — what ∂ℓ/∂z is with the
activation's derivative applied once, twice, or not at all — are fitted to the analytic gradient:

* on the output bias, whose gradient is the batch sum of the delta whatever its shape ((K,), (1, K),
  (K, 1)), so each candidate is compared with it directly;
* on the output weights for one example, whose row k is δ_k times the activation feeding the output
  layer: a candidate δ' predicts the analytic row k as δ'_k / δ_k times the numeric one — with or
  without an output bias, and without the logits;
* on directional derivatives over the whole model of ⟨δ, z(θ)⟩ with δ fixed, where z is the output
  before the activation, recovered by inverting it (logit, atanh, identity; softmax probabilities only
  up to a per-row constant, so there only row-sum-free candidates are tested).

A fitted scale then says more: 1 is the reduction itself, B a missing batch average, 2 or ½ the ½ of
squared error in one of the loss and the gradient but not the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..measure.directions import DirectionalDerivative, OutputFunction
from ..measure.single import EntryGradients
from ..numeric.comparison import TensorCheck
from ..numeric.fitting import EXPLAINED, fit_scale, near
from ..numeric.losses import cross_entropy, is_probabilities, softmax

__all__ = ["DeltaFit", "OneExample", "OutputModel", "delta_fits", "delta_functions", "identify", "output_bias",
           "output_weight"]

Array = np.ndarray
#: One example's output-weight gradient entries, the weight's output axis, and the example's position.
OneExample = tuple[EntryGradients, int, int]
_CLIP = 1e-12


@dataclass(frozen=True)
class OutputModel:
    """The model's outputs and loss, as identified: ``activation`` of the outputs, ``loss`` family,
    ``half`` (squared error with its ½), and ``factor`` — what the loss multiplies the summed per-example
    losses by (1/B for a mean over the examples, 1 for a sum, 1/(B·K) for a mean over every entry)."""

    activation: str
    loss: str
    half: bool
    factor: float
    reduction: str

    def describe(self) -> str:
        loss = ("½ " if self.half else "") + self.loss if self.loss == "squared error" else self.loss
        return f"{self.activation} outputs with {self.reduction} {loss}"


def _activation(o: Array) -> str:
    if o.shape[1] >= 2 and is_probabilities(o):
        return "softmax"
    if np.all(o > 0) and np.all(o < 1):
        return "sigmoid"
    if np.all(np.abs(o) < 1) and np.any(o < 0):
        return "tanh"
    return "linear"


def _per_example(loss: str, o: Array, t: Array, activation: str) -> Array | None:
    with np.errstate(all="ignore"):
        if loss == "cross-entropy":
            if o.shape[1] < 2:
                return None
            return np.array([cross_entropy(o[i:i + 1], t[i:i + 1], probabilities=activation == "softmax")
                             for i in range(len(o))])
        if loss == "binary cross-entropy":
            if not (np.all(o > 0) and np.all(o < 1)):
                return None
            p = np.clip(o, _CLIP, 1 - _CLIP)
            return -np.sum(t * np.log(p) + (1 - t) * np.log(1 - p), axis=1)
        return np.sum((o - t) ** 2, axis=1)


def identify(o: Array, t: Array, loss_value: float) -> list[OutputModel]:
    """Output models for these outputs and targets: those whose loss value equals the model's own, else
    (the loss has a term the kit cannot see, such as L2) those it exceeds, nearest first. Empty when the
    loss is not finite or the outputs fit no standard loss."""
    activation = _activation(o)
    B, K = o.shape
    reductions = (("mean", 1 / B), ("summed", 1.0), ("entry-mean", 1 / (B * K)))
    exact, below = [], []
    if not math.isfinite(loss_value):
        return []
    for loss in ("cross-entropy", "binary cross-entropy", "squared error"):
        values = _per_example(loss, o, t, activation)
        if values is None or not np.all(np.isfinite(values)):
            continue
        for half in ((False, True) if loss == "squared error" else (False,)):
            total = float(np.sum(values)) * (0.5 if half else 1.0)
            for reduction, factor in reductions:
                gap = loss_value - total * factor
                act = "scores" if activation != "softmax" and loss == "cross-entropy" else activation
                model = OutputModel(act, loss, half, factor, reduction)
                if abs(gap) <= 1e-7 * max(abs(loss_value), 1e-12):
                    exact.append(model)
                elif gap > 0:
                    below.append((gap, model))
    if exact:  # one value can fit several losses (two softmax outputs: cross-entropy = ½ binary CE): the
        return [min(exact, key=_unnatural)]  # pairing natural for the outputs is the one meant
    return [m for _, m in sorted(below, key=lambda pair: (_unnatural(pair[1]), pair[0]))][:4]


def _unnatural(model: OutputModel) -> int:
    natural = {"softmax": "cross-entropy", "scores": "cross-entropy", "sigmoid": "binary cross-entropy"}
    return 0 if natural.get(model.activation, "squared error") == model.loss else 1


def _act_prime(model: OutputModel, o: Array) -> Array:
    if model.activation == "sigmoid":
        return o * (1 - o)
    if model.activation == "tanh":
        return 1 - o**2
    return np.ones_like(o)


def _correct(model: OutputModel, o: Array, t: Array) -> Array:
    """∂(factor · Σ ℓ_i)/∂z, per example (B, K)."""
    p = softmax(o) if model.activation == "scores" else o
    if model.loss in ("cross-entropy", "binary cross-entropy"):
        delta = p - t
    else:
        delta = (1.0 if model.half else 2.0) * (o - t) * _act_prime(model, o)
    return model.factor * delta


def candidates(model: OutputModel, o: Array, t: Array) -> dict[str, Array]:
    """Per-example deltas (B, K) for each hypothesis: the correct one, the activation's derivative applied
    again (elementwise, and for softmax its full Jacobian), and the output's derivative missing."""
    correct = _correct(model, o, t)
    out = {"correct": correct}
    if model.activation == "softmax":
        p = o
        out["elementwise"] = correct * p * (1 - p)
        out["jacobian"] = p * (correct - np.sum(correct * p, axis=1, keepdims=True))
    elif model.activation in ("sigmoid", "tanh"):
        prime = _act_prime(model, o)
        out["elementwise"] = correct * prime
        if model.loss == "squared error":
            out["missing-derivative"] = correct / prime
    elif model.activation == "scores":
        p = softmax(o)
        out["elementwise"] = correct * p * (1 - p)
        out["jacobian"] = p * (correct - np.sum(correct * p, axis=1, keepdims=True))
    return out


def _logits(model: OutputModel, raw: Array) -> Array | None:
    """z recovered from the outputs: exactly for sigmoid, tanh, linear and scores."""
    with np.errstate(all="ignore"):
        if model.activation == "sigmoid":
            p = np.clip(raw, _CLIP, 1 - _CLIP)
            return np.log(p / (1 - p))
        if model.activation == "tanh":
            return np.arctanh(np.clip(raw, -1 + _CLIP, 1 - _CLIP))
        if model.activation in ("linear", "scores"):
            return raw
    return None


@dataclass(frozen=True)
class DeltaFit:
    """How well a candidate output delta explains the analytic gradient."""

    hypothesis: str
    scale: float
    residual: float
    source: str
    agree: bool = True
    #: The scale says nothing about the batch (one example's fit: a missing batch average is invisible).
    scale_free: bool = False

    @property
    def explains(self) -> bool:
        """Residual below `EXPLAINED` on every source, with one scale."""
        return self.agree and self.residual < EXPLAINED


def delta_functions(models: Sequence[OutputModel], o: Array, t: Array) -> dict[str, OutputFunction]:
    """Functions of the model's raw outputs whose directional derivatives test each hypothesis of each
    candidate output model ``i``: the data term (``i:data``), ⟨δ, z⟩ for every candidate δ when z can be
    recovered, and for softmax probabilities the ½‖softmax − t‖² whose gradient is the Jacobian form."""
    functions: dict[str, OutputFunction] = {}
    for i, model in enumerate(models):
        functions[f"{i}:data"] = lambda raw, m=model: _data_term(m, raw, t)  # type: ignore[misc]
        if _logits(model, o) is not None:
            for name, delta in candidates(model, o, t).items():
                functions[f"{i}:{name}"] = lambda raw, d=delta, m=model: float(  # type: ignore[misc]
                    np.sum(d * _logits(m, raw)))
        elif model.activation == "softmax":
            functions[f"{i}:jacobian"] = lambda raw, m=model: float(  # type: ignore[misc]
                m.factor * 0.5 * np.sum((raw - t) ** 2))
    return functions


def _data_term(model: OutputModel, raw: Array, t: Array) -> float:
    values = _per_example(model.loss, raw, t, model.activation)
    if values is None:
        return math.nan
    return float(np.sum(values)) * model.factor * (0.5 if model.half else 1.0)


def _bias_fits(model: OutputModel, o: Array, t: Array, bias: TensorCheck, analytic: Array) -> dict[str, DeltaFit]:
    """g_b = c · Σ_i δ_i + (numeric − correct): the part of the bias gradient beyond the data term (a
    regulariser) is carried along."""
    if bias.checked < bias.size:
        return {}
    numeric = np.empty(bias.size)
    numeric[bias.table.flat] = bias.table.numeric
    hypotheses = {name: d.sum(axis=0) for name, d in candidates(model, o, t).items()}
    rest = numeric - hypotheses["correct"]
    source = f"output bias {bias.param}"
    return {name: DeltaFit(name, *fit_scale(analytic.reshape(-1) - rest, d), source) for name, d in hypotheses.items()}


def _direction_fits(directions: Sequence[DirectionalDerivative], index: int) -> dict[str, DeltaFit]:
    smooth = [d for d in directions if d.smooth]
    prefix = f"{index}:"
    if len(smooth) < 2 or f"{prefix}data" not in smooth[0].outputs:
        return {}
    a = np.array([d.analytic for d in smooth])
    rest = np.array([d.loss - d.outputs[f"{prefix}data"] for d in smooth])  # the loss beyond its data term (L2)
    fits = {}
    for key in smooth[0].outputs:
        if not key.startswith(prefix) or key == f"{prefix}data":
            continue
        name = key[len(prefix):]
        fits[name] = DeltaFit(name, *fit_scale(a - rest, np.array([d.outputs[key] for d in smooth])),
                              "directional probes")
    if "correct" not in fits:
        data = np.array([d.outputs[f"{prefix}data"] for d in smooth])
        fits["correct"] = DeltaFit("correct", *fit_scale(a - rest, data), "directional probes")
    return fits


def _weight_fits(model: OutputModel, o: Array, t: Array, weight: OneExample) -> dict[str, DeltaFit]:
    """For one example, row k of the output weight's gradient is δ_k times the activation feeding the
    output layer: a hypothesis δ' predicts the analytic row k as (δ'_k / δ_k) × the numeric one."""
    grads, k_axis, example = weight
    alone = replace(model, factor=model.factor * (1 if model.reduction == "summed" else len(o)))  # a batch of one
    hypotheses = candidates(alone, o[example:example + 1], t[example:example + 1])
    correct = hypotheses["correct"][0]
    k = grads.index[k_axis]
    keep = np.abs(correct[k]) > 1e-9 * max(float(np.max(np.abs(correct))), 1e-300)
    if np.count_nonzero(keep) < 3:
        return {}
    source = "one example's output weights"
    ratio = {name: d[0][k] / np.where(keep, correct[k], 1.0) for name, d in hypotheses.items()}
    return {name: DeltaFit(name, *_row_fit(grads, r, keep), source, scale_free=True) for name, r in ratio.items()}


def _row_fit(grads: EntryGradients, ratio: Array, keep: Array) -> tuple[float, float]:
    """analytic ≈ c · ratio ⊙ numeric; failing that, with an L2 term λ·W in both the loss and the
    gradient: analytic ≈ c · ratio ⊙ (numeric − λW) + λW (fitted by least squares in c, cλ and λ)."""
    a, n, w, r = grads.analytic[keep], grads.numeric[keep], grads.values[keep], ratio[keep]
    scale, residual = fit_scale(a, r * n)
    if residual < EXPLAINED or a.size < 6:
        return scale, residual
    design = np.stack([r * n, r * w, w], axis=1)
    coef, *_ = np.linalg.lstsq(design, a, rcond=None)
    norm = float(np.linalg.norm(a))
    with_l2 = float(np.linalg.norm(a - design @ coef)) / norm if norm > 0 else math.inf
    return (float(coef[0]), with_l2) if with_l2 < residual else (scale, residual)


def output_weight(K: int, tensors: Sequence[TensorCheck]) -> tuple[TensorCheck, int] | None:
    """The output layer's weight matrix and its output axis: its one 2-D tensor with exactly one axis of
    length K (a square K × K weight is ambiguous and left out)."""
    found = [(t, t.shape.index(K)) for t in tensors
             if len(t.shape) == 2 and t.shape.count(K) == 1 and min(t.shape) > 1]
    return found[0] if len(found) == 1 else None


def output_bias(K: int, tensors: Sequence[TensorCheck]) -> TensorCheck | None:
    """The output layer's bias: its one tensor of size K and at most one axis longer than 1."""
    found = [t for t in tensors if t.size == K and sum(d > 1 for d in t.shape) <= 1 and len(t.shape) <= 2]
    return found[0] if len(found) == 1 else None


def _combine(sources: Sequence[Mapping[str, DeltaFit]]) -> dict[str, DeltaFit]:
    """One fit per hypothesis over every source: the worst residual, and the scale of the sources that
    see the batch, which must agree (a scale-free source only tests the delta's form)."""
    combined: dict[str, DeltaFit] = {}
    for name in ("correct", "elementwise", "jacobian", "missing-derivative"):
        fits = [f[name] for f in sources if name in f]
        if not fits:
            continue
        scaled = [f for f in fits if not f.scale_free] or fits
        scales = [f.scale for f in scaled]
        worst = max(fits, key=lambda f: f.residual)
        combined[name] = DeltaFit(name, scales[0], worst.residual, " and ".join(f.source for f in fits),
                                  agree=all(near(s, scales[0]) for s in scales),
                                  scale_free=all(f.scale_free for f in fits))
    return combined


def delta_fits(models: Sequence[OutputModel], o: Array, t: Array, bias: TensorCheck | None,
               analytic: Mapping[str, Array], directions: Sequence[DirectionalDerivative],
               weight: OneExample | None = None) -> tuple[OutputModel | None, dict[str, DeltaFit]]:
    """The output model and each hypothesis fitted over every source of evidence: a hypothesis explains
    the gradient only if it explains every source (the worst residual counts) with one scale. Among
    several candidate output models, the one whose best hypothesis explains the gradient best."""
    best: tuple[float, OutputModel | None, dict[str, DeltaFit]] = (math.inf, None, {})
    for i, model in enumerate(models):  # natural pairings first: the first that explains the gradient wins
        from_bias = _bias_fits(model, o, t, bias, analytic[bias.param]) if bias is not None else {}
        from_weight = _weight_fits(model, o, t, weight) if weight is not None else {}
        fits = _combine([f for f in (from_bias, from_weight, _direction_fits(directions, i)) if f])
        residual = min((f.residual for f in fits.values() if f.agree), default=math.inf)
        if residual < EXPLAINED:
            return model, fits
        if best[1] is None or residual < best[0]:
            best = (residual, model, fits)
    return best[1], best[2]
