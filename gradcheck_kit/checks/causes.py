"""Named causes of a wrong gradient: each fits one hypothesis about *how* the gradient is wrong.

Evidence comes from three places, all exact up to finite-difference noise (see `evidence`):

* the per-tensor entries and directions already measured (sign flips, constant factors, transposes);
* the output bias, whose gradient is the batch sum of the output delta, so candidate deltas computed
  from the outputs ``o`` and targets ``t`` can be compared with it directly;
* whole-model directional derivatives against candidate losses of the outputs: the gradient of
  ``½‖softmax(z) − t‖²`` is ``J_softmaxᵀ(o − t)``, so a gradient that matches its differences applied
  the softmax derivative on top of ``o − t``.

A cause is named only when its hypothesis explains the analytic gradient to within ``EXPLAINED``
(relative residual) and the correct gradient does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..numeric.comparison import TensorCheck
from ..numeric.fitting import EXPLAINED, fit_scale, near
from .codes import (
    DOUBLED_SOFTMAX,
    MISSING_BATCH_AVERAGE,
    SCALED,
    SIGN_FLIPPED,
    SUMMED_LOSS,
    TRANSPOSED,
    WEIGHT_DECAY,
    ZERO,
)
from .context import Context
from .evidence import DeltaFit
from .findings import Finding
from .findings import format_number as fmt
from .registry import register

__all__ = ["check_batch_average", "check_gradient_sign_scale_transpose", "check_softmax_derivative",
           "check_weight_decay"]


def _doubled_fit(ctx: Context) -> DeltaFit | None:
    """The doubled-derivative hypothesis that explains the gradient better than the correct one, if any."""
    fits, B = ctx.delta_fits, ctx.batch.size
    # (with two classes the full-Jacobian form is exactly twice the elementwise one, so the scale decides)
    doubled = [f for f in (fits.get("elementwise"), fits.get("jacobian"))
               if f is not None and f.explains and (near(f.scale, 1.0) or near(f.scale, B))]
    if not doubled:
        return None
    best = min(doubled, key=lambda f: f.residual)
    correct = fits.get("correct")
    if (correct is not None and correct.agree and correct.residual < 10 * best.residual
            and (near(correct.scale, 1.0) or near(correct.scale, B))):
        return None  # the evidence does not tell the doubled delta from the correct one
    # (with two classes and one example the doubled delta is o0·o1·(o − t): "correct" then fits only with
    # that odd scale, while the doubled hypothesis fits at scale 1, so it is the better explanation)
    return best


@register(DOUBLED_SOFTMAX, requires=("predict",))
def check_softmax_derivative(ctx: Context) -> Iterator[Finding]:
    """The output delta equals ``(o − t)·o·(1 − o)`` or ``J_softmaxᵀ(o − t)`` instead of ``o − t``."""
    if not ctx.gradient_is_wrong or ctx.outputs is None:
        return
    best = _doubled_fit(ctx)
    if best is None:
        return
    fits, B = ctx.delta_fits, ctx.batch.size
    form = "(o − t)·o·(1 − o)" if best.hypothesis == "elementwise" else "J_softmaxᵀ(o − t)"
    summed = " and summed, not averaged, over the batch" if near(best.scale, B) and B > 1 else ""
    correct, elem, jac = fits.get("correct"), fits.get("elementwise"), fits.get("jacobian")
    yield DOUBLED_SOFTMAX.finding(
        layer=ctx.output_layer,
        message=(
            f"the analytic gradient is what you get from the output delta {form}{summed} (relative residual "
            f"{fmt(best.residual)} on the {best.source}), not from o − t (residual "
            f"{fmt(correct.residual if correct else math.nan)}). Evidence: elementwise form residual "
            f"{fmt(elem.residual if elem else math.nan)}, full-Jacobian form residual "
            f"{fmt(jac.residual if jac else math.nan)}. With softmax outputs and cross-entropy, dE/dz is simply "
            f"o − t: the softmax derivative is already folded in, so multiplying by it again shrinks the delta "
            f"wherever the network is confident and the network learns slowly or not at all."
        ),
        fix="Use delta = o - t at the output layer (divided by the batch size if the loss is a batch mean); "
        "drop the extra multiplication by o * (1 - o) or by the softmax Jacobian.",
        evidence={
            "hypothesis": best.hypothesis, "source": best.source,
            "residual_elementwise": elem.residual if elem else None,
            "residual_jacobian": jac.residual if jac else None,
            "residual_correct": correct.residual if correct else None,
            "scale": best.scale, "batch_size": B,
        },
    )


def _batch_fits(ctx: Context) -> list[DeltaFit]:
    """Fits of the analytic gradient against the correct delta of the outputs, then against the loss's
    own directional derivatives (which hold also when the outputs are not what the loss sees, e.g. a
    batch norm in test mode for predictions and train mode for the loss)."""
    fits = [fit for fit in (ctx.delta_fits.get("correct"),) if fit is not None]
    directions = [d for d in ctx.directions if d.smooth]
    if len(directions) >= 2:
        scale, residual = fit_scale(np.array([d.analytic for d in directions]), np.array([d.loss for d in directions]))
        fits.append(DeltaFit("correct", scale, residual, "directional probes of the loss"))
    return fits


def _summed_loss(ctx: Context) -> Iterator[Finding]:
    out, B = ctx.outputs, ctx.batch.size
    if out is None:
        return
    mean_ce = out.mean_cross_entropy(out.raw)
    loss = ctx.measurement.base_loss
    if mean_ce > 0 and near(loss / mean_ce, B):
        yield SUMMED_LOSS.finding(
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


@register(MISSING_BATCH_AVERAGE, SUMMED_LOSS)
def check_batch_average(ctx: Context) -> Iterator[Finding]:
    """Gradient = B × the gradient of a batch-mean loss; or, with no gradient error, a summed loss."""
    B = ctx.batch.size
    if B < 2:
        return
    if not ctx.gradient_is_wrong:
        yield from _summed_loss(ctx)
        return
    fit = next((f for f in _batch_fits(ctx) if f.explains and near(f.scale, B)), None)
    if fit is not None:
        yield MISSING_BATCH_AVERAGE.finding(
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
    (c, d), *_ = np.linalg.lstsq(design, a, rcond=None)
    norm = float(np.linalg.norm(a))
    two = float(np.linalg.norm(a - design @ np.array([c, d]))) / norm if norm > 0 else math.inf
    return (float(c), two) if two < residual else (scale, residual)


def _transpose_residual(ctx: Context, t: TensorCheck) -> float:
    """Relative residual of numeric[i, j] ≈ analytic reshaped-transposed [i, j] over the checked entries."""
    index, _, n = t.decisive_arrays()
    if len(t.shape) != 2 or n.size < 2:
        return math.inf
    rows, cols = t.shape
    a = ctx.measurement.analytic[t.param].reshape(cols, rows).T[index]
    norm = float(np.linalg.norm(n))
    return float(np.linalg.norm(a - n)) / norm if norm > 0 else math.inf


def _zero(layer: str, t: TensorCheck) -> Finding:
    numeric = float(np.max(np.abs(t.decisive_arrays()[2]), initial=0.0))
    return ZERO.finding(
        layer=layer,
        message=f"{t.param}: the analytic gradient is exactly 0 in all {t.size} entries, while finite "
        f"differences give up to {fmt(numeric, 3)} ({t.failed} failing checks; eps {fmt(t.step)}, "
        f"{t.working_dtype}). The gradient is never computed, or never written back, so {t.param} never learns.",
        fix=f"Compute {t.param}'s gradient (for a bias: the batch sum of the delta) and return it / apply its update.",
        evidence={"param": t.param, "size": t.size, "max_numeric": numeric},
    )


def _shape_of_error(ctx: Context, layer: str, t: TensorCheck) -> Finding | None:
    """sign-flipped, scaled-gradient or transposed-gradient for one failing tensor, if one explains it."""
    scale, residual = _tensor_fit(ctx, t)
    B = ctx.batch.size
    numbers = (f"{t.checked} entries and {len(t.probes)} directions; relative residual {fmt(residual)}; "
               f"eps {fmt(t.step)}, {t.working_dtype}")
    if residual < EXPLAINED and near(scale, -1.0):
        return SIGN_FLIPPED.finding(
            layer=layer,
            message=f"{t.param}: analytic gradient is {fmt(scale, 4)}× the finite-difference gradient ({numbers}). "
            f"A flipped sign makes gradient descent climb the loss.",
            fix=f"Flip the sign of {t.param}'s gradient (look for t - o instead of o - t, or a += that should be -=).",
            evidence={"param": t.param, "factor": scale, "residual": residual},
        )
    if residual < EXPLAINED and not near(scale, 1.0) and not (B > 1 and near(scale, B)) and math.isfinite(scale):
        return SCALED.finding(
            layer=layer,
            message=f"{t.param}: analytic gradient is {fmt(scale, 4)}× the finite-difference gradient ({numbers}). "
            f"A constant factor silently rescales the learning rate of this tensor.",
            fix=f"Find the stray factor {fmt(scale, 4)} in {t.param}'s gradient (a missing ½ in a squared loss, a "
            f"doubled term, a wrong normalisation).",
            evidence={"param": t.param, "factor": scale, "residual": residual},
        )
    transposed = _transpose_residual(ctx, t)
    if transposed < EXPLAINED:
        return TRANSPOSED.finding(
            layer=layer,
            message=f"{t.param}: the analytic gradient, transposed, matches the finite differences "
            f"(relative residual {fmt(transposed)} over {t.decisive_arrays()[2].size} entries; untransposed max rel. "
            f"error {fmt(t.max_rel_error)}). The shapes agree only because the matrix is square.",
            fix=f"Swap the operands of {t.param}'s gradient: for z = a @ W it is a.T @ delta, not delta.T @ a.",
            evidence={"param": t.param, "residual": transposed, "shape": str(t.shape)},
        )
    return None


@register(SIGN_FLIPPED, SCALED, TRANSPOSED, ZERO, reads=(DOUBLED_SOFTMAX, MISSING_BATCH_AVERAGE))
def check_gradient_sign_scale_transpose(ctx: Context) -> Iterator[Finding]:
    """In each layer where an error enters: is the wrong tensor −1×, c×, or the transpose of the truth?"""
    explained = ctx.found(DOUBLED_SOFTMAX.code) or ctx.found(MISSING_BATCH_AVERAGE.code)
    for layer in ctx.attribution.origins:
        if explained and layer == ctx.output_layer:
            continue  # a wrong output delta scales every tensor; it is named once, not per tensor
        for t in [t for t in ctx.tensors_of(layer) if t.verdict == "fail"]:
            finding = (_zero(layer, t) if not np.any(ctx.measurement.analytic[t.param])
                       else _shape_of_error(ctx, layer, t))
            if finding is not None:
                yield finding


@register(WEIGHT_DECAY)
def check_weight_decay(ctx: Context) -> Iterator[Finding]:
    """analytic − numeric = c·W: a weight-decay term in the gradient but not the loss (c > 0) or the reverse."""
    c, names = ctx.weight_decay.coefficient, ctx.weight_decay.params
    if not names:
        return
    by_param = ctx.measurement.by_param
    layers = sorted({by_param[n].layer for n in names}, key=ctx.layers.index)
    listed = ", ".join(names)
    if ctx.view.capabilities.kit_loss:
        yield WEIGHT_DECAY.finding(
            severity="warning", layer=None,
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
    yield WEIGHT_DECAY.finding(
        layer=layers[0] if len(layers) == 1 else None,
        message=f"for {listed}, analytic − numeric = {fmt(c, 4)}·W exactly (relative residual below {fmt(EXPLAINED)}): "
                "a "
        f"weight-decay term {fmt(abs(c), 4)}·W that {direction}. The rest of the gradient agrees.",
        fix=(f"Add 0.5 * {fmt(c, 4)} * sum(W**2) to the loss, or drop {fmt(c, 4)} * W from the gradient."
             if c > 0 else f"Add {fmt(-c, 4)} * W (the gradient of the L2 term) to each of these gradients."),
        evidence={"coefficient": c, "params": listed},
    )
