"""Named causes of a wrong gradient: each fits one hypothesis about *how* the gradient is wrong.

Evidence comes from three places, all exact up to finite-difference noise:

* the per-tensor entries and directions already measured (sign flips, constant factors, transposes);
* the output bias, whose gradient is the batch sum of the output delta, so candidate deltas computed
  from the outputs ``o`` and targets ``t`` can be compared with it directly;
* whole-model directional probes against candidate losses of the outputs: the gradient of
  ``½‖softmax(z) − t‖²`` is ``J_softmaxᵀ(o − t)``, so a gradient that matches its differences applied
  the softmax derivative on top of ``o − t``.

A cause is named only when its hypothesis explains the analytic gradient to within ``EXPLAINED``
(relative residual) and the correct gradient does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..findings import Finding, format_number as fmt
from ..probes import fit_scale
from .registry import CodeInfo, register

if TYPE_CHECKING:
    from ..numeric.comparison import TensorCheck
    from .context import Context

__all__ = [
    "check_batch_average",
    "check_gradient_sign_scale_transpose",
    "check_softmax_derivative",
    "check_weight_decay",
    "uses_kit_loss",
    "weight_decay_fit",
    "fit_output_delta",
]

DOUBLED_SOFTMAX = CodeInfo("doubled-softmax-derivative", "error",
                           "the output delta is (o − t) multiplied by the softmax derivative again")
MISSING_BATCH_AVERAGE = CodeInfo("missing-batch-average", "error",
                                 "the loss is a batch mean but the gradient is a batch sum")
SUMMED_LOSS = CodeInfo("summed-loss", "warning",
                       "the loss is a sum over the batch, so the right learning rate depends on batch size")
SIGN_FLIPPED = CodeInfo("sign-flipped", "error", "the analytic gradient is minus the true gradient")
SCALED = CodeInfo("scaled-gradient", "error", "the analytic gradient is the true gradient times a constant")
TRANSPOSED = CodeInfo("transposed-gradient", "error", "the analytic gradient is the transpose of the true gradient")
ZERO = CodeInfo("zero-gradient", "error", "the analytic gradient is exactly zero where the true gradient is not")
WEIGHT_DECAY = CodeInfo("weight-decay-mismatch", "error",
                        "gradient and loss disagree by a weight-decay term c·W (in one but not the other)")

#: A hypothesis "explains" a gradient when its relative residual is below this.
EXPLAINED = 1e-3
#: A fitted factor "is" a target value within this relative distance.
FACTOR_TOLERANCE = 0.01


def _near(value: float, target: float) -> bool:
    return math.isfinite(value) and abs(value - target) <= FACTOR_TOLERANCE * max(1.0, abs(target))


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


def _output_bias(ctx: Context) -> TensorCheck | None:
    out = ctx.outputs
    if out is None:
        return None
    candidates = [t for t in ctx.tensors_of(ctx.output_layer) if t.shape == (out.n_classes,)]
    return candidates[0] if len(candidates) == 1 else None


def _bias_fits(ctx: Context) -> dict[str, DeltaFit]:
    """Fit candidate deltas to the output-bias gradient: g_b = c · Σ_i δ_i / B + (numeric − correct)."""
    out, bias = ctx.outputs, _output_bias(ctx)
    if out is None or bias is None or bias.checked < bias.size:
        return {}
    B = ctx.batch.size
    p, t = out.probabilities, out.targets
    analytic = ctx.measurement.analytic[bias.param].reshape(-1)
    numeric = np.empty(bias.size)
    numeric[bias.table.flat] = bias.table.numeric
    correct = (p - t).sum(axis=0) / B
    rest = numeric - correct  # e.g. regularisation of the bias, usually 0
    candidates = {
        "correct": correct,
        "elementwise": ((p - t) * p * (1 - p)).sum(axis=0) / B,
        "jacobian": (p * ((p - t) - np.sum((p - t) * p, axis=1, keepdims=True))).sum(axis=0) / B,
    }
    fits = {}
    for name, delta in candidates.items():
        scale, residual = fit_scale(analytic - rest, delta)
        fits[name] = DeltaFit(name, scale, residual, f"output bias {bias.param}")
    return fits


def _probe_fits(ctx: Context) -> dict[str, DeltaFit]:
    """Fit candidate losses to whole-model directional probes: a_v − r_v ≈ c · d_v(candidate)."""
    probes = ctx.hypothesis_probes()
    if not probes or not probes[0].outputs:
        return {}
    a = np.array([p.analytic for p in probes])
    ce = np.array([p.outputs["ce"] for p in probes])
    rest = np.array([p.loss for p in probes]) - ce  # the loss minus its cross-entropy part (e.g. L2)
    fits = {"correct": DeltaFit("correct", *fit_scale(a - rest, ce), "directional probes")}
    fits["jacobian"] = DeltaFit("jacobian", *fit_scale(a - rest, np.array([p.outputs["mse"] for p in probes])),
                                "directional probes")
    if ctx.outputs is not None and ctx.outputs.are_scores:  # exact logits: the elementwise delta is testable
        fits["elementwise"] = DeltaFit("elementwise", *fit_scale(a - rest, np.array([p.outputs["elem"] for p in probes])),
                                       "directional probes")
    return fits


def fit_output_delta(ctx: Context) -> dict[str, DeltaFit]:
    """Fit per hypothesis (``correct``, ``elementwise``, ``jacobian``) over all available evidence: a
    hypothesis explains the gradient only if it explains every source (the worst residual counts) with
    one scale (sources that disagree on the scale count as unexplained)."""
    if "delta_fits" not in ctx._cache:
        combined: dict[str, DeltaFit] = {}
        per_source = [fits for fits in (_bias_fits(ctx), _probe_fits(ctx)) if fits]
        for name in ("correct", "elementwise", "jacobian"):
            fits = [f[name] for f in per_source if name in f]
            if not fits:
                continue
            scales = [f.scale for f in fits]
            worst = max(fits, key=lambda f: f.residual)
            combined[name] = DeltaFit(name, scales[0], worst.residual, " and ".join(f.source for f in fits),
                                      agree=all(_near(s, scales[0]) for s in scales))
        ctx._cache["delta_fits"] = combined
    return ctx._cache["delta_fits"]


def _gradient_is_wrong(ctx: Context) -> bool:
    return bool(ctx.origin_layers())


@register(DOUBLED_SOFTMAX, requires=("predict",))
def check_softmax_derivative(ctx: Context) -> Iterator[Finding]:
    """The output delta equals ``(o − t)·o·(1 − o)`` or ``J_softmaxᵀ(o − t)`` instead of ``o − t``."""
    if not _gradient_is_wrong(ctx) or ctx.outputs is None:
        return
    fits = fit_output_delta(ctx)
    B = ctx.batch.size
    # (with two classes the full-Jacobian form is exactly twice the elementwise one, so the scale decides)
    doubled = [f for f in (fits.get("elementwise"), fits.get("jacobian"))
               if f is not None and f.explains and (_near(f.scale, 1.0) or _near(f.scale, B))]
    if not doubled:
        return
    best = min(doubled, key=lambda f: f.residual)
    correct = fits.get("correct")
    if (correct is not None and correct.agree and correct.residual < 10 * best.residual
            and (_near(correct.scale, 1.0) or _near(correct.scale, B))):
        return  # the evidence does not tell the doubled delta from the correct one
    # (with two classes and one example the doubled delta is o0·o1·(o − t): "correct" then fits only with
    # that odd scale, while the doubled hypothesis fits at scale 1, so it is the better explanation)
    form = "(o − t)·o·(1 − o)" if best.hypothesis == "elementwise" else "J_softmaxᵀ(o − t)"
    summed = " and summed, not averaged, over the batch" if _near(best.scale, B) and B > 1 else ""
    elem, jac = fits.get("elementwise"), fits.get("jacobian")
    yield Finding(
        code=DOUBLED_SOFTMAX.code,
        severity="error",
        layer=ctx.output_layer,
        message=(
            f"the analytic gradient is what you get from the output delta {form}{summed} (relative residual "
            f"{fmt(best.residual)} on the {best.source}), not from o − t (residual "
            f"{fmt(correct.residual if correct else math.nan)}). Evidence: elementwise form residual "
            f"{fmt(elem.residual if elem else math.nan)}, full-Jacobian form residual {fmt(jac.residual if jac else math.nan)}. "
            f"With softmax outputs and cross-entropy, dE/dz is simply o − t: the softmax derivative is already "
            f"folded in, so multiplying by it again shrinks the delta wherever the network is confident and the "
            f"network learns slowly or not at all."
        ),
        fix="Use delta = o - t at the output layer (divided by the batch size if the loss is a batch mean); "
        "drop the extra multiplication by o * (1 - o) or by the softmax Jacobian.",
        evidence={
            "hypothesis": best.hypothesis,
            "source": best.source,
            "residual_elementwise": elem.residual if elem else None,
            "residual_jacobian": jac.residual if jac else None,
            "residual_correct": correct.residual if correct else None,
            "scale": best.scale,
            "batch_size": B,
        },
    )


@register(MISSING_BATCH_AVERAGE, SUMMED_LOSS)
def check_batch_average(ctx: Context) -> Iterator[Finding]:
    """Gradient = B × the gradient of a batch-mean loss; or, with no gradient error, a summed loss."""
    B = ctx.batch.size
    if B < 2:
        return
    if _gradient_is_wrong(ctx):
        fits = fit_output_delta(ctx)
        fit = fits.get("correct")
        if fit is None:  # no outputs: compare with the loss's own differences
            probes = ctx.hypothesis_probes()
            scale, residual = fit_scale(np.array([p.analytic for p in probes]), np.array([p.loss for p in probes]))
            fit = DeltaFit("correct", scale, residual, "directional probes")
        if fit.explains and _near(fit.scale, B):
            yield Finding(
                code=MISSING_BATCH_AVERAGE.code,
                severity="error",
                layer=ctx.output_layer,
                message=(
                    f"the analytic gradient is {fmt(fit.scale, 4)}× the finite-difference gradient of the loss's data "
                    f"term (batch size {B}; relative residual {fmt(fit.residual)} on the {fit.source}). The loss is a "
                    f"mean over the batch but the gradient is a sum, so every step is {B}× too large and the "
                    f"effective learning rate changes with the batch size."
                ),
                fix="Divide the output delta by the batch size (delta = (o - t) / B), or make the loss a sum so "
                "the two agree.",
                evidence={"factor": fit.scale, "batch_size": B, "residual": fit.residual, "source": fit.source},
            )
        return
    out = ctx.outputs
    if out is None:
        return
    mean_ce = out.mean_cross_entropy(out.raw)
    loss = ctx.measurement.base_loss
    if mean_ce > 0 and _near(loss / mean_ce, B):
        yield Finding(
            code=SUMMED_LOSS.code,
            severity="warning",
            layer=None,
            message=(
                f"the loss ({fmt(loss, 4)}) is {fmt(loss / mean_ce, 4)}× the mean cross-entropy ({fmt(mean_ce, 4)}) on "
                f"a batch of {B}: it is a sum over the batch. Gradients agree with it, but a learning rate tuned at "
                f"one batch size is {B}× too large at another."
            ),
            fix="Average the loss and its gradient over the batch (divide both by B) so the learning rate does "
            "not depend on the batch size; or keep the sum and scale lr by 1/B.",
            evidence={"loss": loss, "mean_cross_entropy": mean_ce, "batch_size": B},
        )


def _tensor_fit(ctx: Context, t: TensorCheck) -> tuple[float, float]:
    """Scale ``c`` and residual of analytic ≈ c · numeric over decisive entries and directions; failing
    that, of analytic ≈ c · numeric + d · W over the entries, which lets the fault sit in the data term
    while an L2 term d·W is carried along (e.g. a sign flipped before the regularisation is added)."""
    index, a, n = t.decisive_arrays()
    probes = [(p.judgement.analytic, p.judgement.numeric) for p in t.probes if p.judgement.status != "inconclusive"]
    aa, nn = a, n
    if probes:
        pa, pn = np.array(probes).T
        aa, nn = np.concatenate([a, pa]), np.concatenate([n, pn])
    if aa.size < 2:
        return math.nan, math.inf
    scale, residual = fit_scale(aa, nn)
    if residual < EXPLAINED or a.size < 4:
        return scale, residual
    w = np.asarray(ctx.view.params[t.param][index], dtype=np.float64)
    design = np.stack([n, w], axis=1)
    if not np.all(np.isfinite(design)) or np.linalg.matrix_rank(design) < 2:
        return scale, residual
    (c, _d), *_ = np.linalg.lstsq(design, a, rcond=None)
    norm = float(np.linalg.norm(a))
    two = float(np.linalg.norm(a - design @ np.array([c, _d]))) / norm if norm > 0 else math.inf
    return (float(c), two) if two < residual else (scale, residual)


def _transpose_residual(ctx: Context, t: TensorCheck) -> float:
    """Relative residual of numeric[i, j] ≈ analytic reshaped-transposed [i, j] over the checked entries."""
    index, _, n = t.decisive_arrays()
    if len(t.shape) != 2 or n.size < 2:
        return math.inf
    rows, cols = t.shape
    swapped = ctx.measurement.analytic[t.param].reshape(cols, rows).T
    a = swapped[index]
    norm = float(np.linalg.norm(n))
    return float(np.linalg.norm(a - n)) / norm if norm > 0 else math.inf


@register(SIGN_FLIPPED, SCALED, TRANSPOSED, ZERO)
def check_gradient_sign_scale_transpose(ctx: Context) -> Iterator[Finding]:
    """In each layer where an error enters: is the wrong tensor −1×, c×, or the transpose of the truth?"""
    B = ctx.batch.size
    explained = ctx.cause_found(DOUBLED_SOFTMAX.code) or ctx.cause_found(MISSING_BATCH_AVERAGE.code)
    for layer in ctx.origin_layers():
        if explained and layer == ctx.output_layer:
            continue  # a wrong output delta scales every tensor; it is named once, not per tensor
        for t in [t for t in ctx.tensors_of(layer) if t.verdict == "fail"]:
            analytic = ctx.measurement.analytic[t.param]
            if not np.any(analytic):
                numeric = float(np.max(np.abs(t.decisive_arrays()[2]), initial=0.0))
                yield Finding(
                    code=ZERO.code, severity="error", layer=layer,
                    message=f"{t.param}: the analytic gradient is exactly 0 in all {t.size} entries, while finite "
                    f"differences give up to {fmt(numeric, 3)} ({t.failed} failing checks; eps {fmt(t.step)}, "
                    f"{t.working_dtype}). The gradient is never computed, or never written back, so {t.param} never learns.",
                    fix=f"Compute {t.param}'s gradient (for a bias: the batch sum of the delta) and return it / apply "
                    f"its update.",
                    evidence={"param": t.param, "size": t.size, "max_numeric": numeric},
                )
                continue
            scale, residual = _tensor_fit(ctx, t)
            numbers = f"{t.checked} entries and {len(t.probes)} directions; relative residual {fmt(residual)}; eps {fmt(t.step)}, {t.working_dtype}"
            if residual < EXPLAINED and _near(scale, -1.0):
                yield Finding(
                    code=SIGN_FLIPPED.code, severity="error", layer=layer,
                    message=f"{t.param}: analytic gradient is {fmt(scale, 4)}× the finite-difference gradient ({numbers}). "
                    f"A flipped sign makes gradient descent climb the loss.",
                    fix=f"Flip the sign of {t.param}'s gradient (look for t - o instead of o - t, or a += that should be -=).",
                    evidence={"param": t.param, "factor": scale, "residual": residual},
                )
            elif residual < EXPLAINED and not _near(scale, 1.0) and not (B > 1 and _near(scale, B)) and math.isfinite(scale):
                yield Finding(
                    code=SCALED.code, severity="error", layer=layer,
                    message=f"{t.param}: analytic gradient is {fmt(scale, 4)}× the finite-difference gradient ({numbers}). "
                    f"A constant factor silently rescales the learning rate of this tensor.",
                    fix=f"Find the stray factor {fmt(scale, 4)} in {t.param}'s gradient (a missing ½ in a squared loss, a "
                    f"doubled term, a wrong normalisation).",
                    evidence={"param": t.param, "factor": scale, "residual": residual},
                )
            else:
                transposed = _transpose_residual(ctx, t)
                if transposed < EXPLAINED:
                    yield Finding(
                        code=TRANSPOSED.code, severity="error", layer=layer,
                        message=f"{t.param}: the analytic gradient, transposed, matches the finite differences "
                        f"(relative residual {fmt(transposed)} over {t.decisive_arrays()[2].size} entries; untransposed max rel. "
                        f"error {fmt(t.max_rel_error)}). The shapes agree only because the matrix is square.",
                        fix=f"Swap the operands of {t.param}'s gradient: for z = a @ W it is a.T @ delta, not delta.T @ a.",
                        evidence={"param": t.param, "residual": transposed, "shape": str(t.shape)},
                    )


def weight_decay_fit(ctx: Context) -> tuple[float, list[str]]:
    """A common ``c`` with ``analytic − numeric ≈ c · W`` on failing tensors, and the tensors it explains."""
    if "weight_decay" not in ctx._cache:
        fits = []
        for t in ctx.measurement.tensors:
            index, a, n = t.decisive_arrays()
            if t.verdict != "fail" or n.size < 2:
                continue
            d = a - n
            w = ctx.view.params[t.param][index]
            scale, residual = fit_scale(d, w)
            if residual < EXPLAINED and math.isfinite(scale) and scale != 0:
                fits.append((t.param, scale))
        if fits:
            c = float(np.median([f[1] for f in fits]))
            names = [p for p, f in fits if _near(f / c, 1.0)]
        else:
            c, names = math.nan, []
        ctx._cache["weight_decay"] = (c, names)
    return ctx._cache["weight_decay"]


def uses_kit_loss(ctx: Context) -> bool:
    """The model has no loss of its own; the kit's cross-entropy stands in for it."""
    return getattr(ctx.view, "kit_loss", None) is not None and getattr(ctx.view, "loss_method", "x") is None


@register(WEIGHT_DECAY)
def check_weight_decay(ctx: Context) -> Iterator[Finding]:
    """analytic − numeric = c·W: a weight-decay term in the gradient but not the loss (c > 0) or the reverse."""
    c, names = weight_decay_fit(ctx)
    if not names:
        return
    layers = sorted({ctx.measurement.by_param[n].layer for n in names}, key=ctx.layers.index)
    listed = ", ".join(names)
    if uses_kit_loss(ctx):
        yield Finding(
            code=WEIGHT_DECAY.code, severity="warning", layer=None,
            message=f"for {listed}, the update your training step makes differs from the gradient of the kit's loss by "
            f"exactly {fmt(c, 4)}·W: it applies L2 weight decay. The model has no loss(X, y), so the kit compares with "
            f"plain mean cross-entropy, which has no such term; apart from it the gradients agree.",
            fix=f"Nothing to fix if the decay is intended. To have it checked, give the model a loss(X, y) that adds "
            f"0.5 * {fmt(c, 4)} * sum(W**2) over these weights.",
            evidence={"coefficient": c, "params": listed},
        )
        return
    direction = ("the gradient has the term but the loss does not" if c > 0
                 else "the loss has the term but the gradient does not")
    yield Finding(
        code=WEIGHT_DECAY.code, severity="error", layer=layers[0] if len(layers) == 1 else None,
        message=f"for {listed}, analytic − numeric = {fmt(c, 4)}·W exactly (relative residual below {fmt(EXPLAINED)}): a "
        f"weight-decay term {fmt(abs(c), 4)}·W that {direction}. The rest of the gradient agrees.",
        fix=(f"Add 0.5 * {fmt(c, 4)} * sum(W**2) to the loss, or drop {fmt(c, 4)} * W from the gradient."
             if c > 0 else f"Add {fmt(-c, 4)} * W (the gradient of the L2 term) to each of these gradients."),
        evidence={"coefficient": c, "params": listed},
    )
