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
    DOUBLED_SIGMOID,
    DOUBLED_SOFTMAX,
    MISSING_BATCH_AVERAGE,
    MISSING_OUTPUT_DERIVATIVE,
    SCALED,
    SIGN_FLIPPED,
    SQUARED_ERROR_HALF,
    SUMMED_LOSS,
    TRANSPOSED,
    WEIGHT_DECAY,
    ZERO,
)
from .context import Context
from .deltas import DeltaFit, OutputModel
from .findings import Finding
from .findings import format_number as fmt
from .registry import register

__all__ = ["check_batch_average", "check_gradient_sign_scale_transpose", "check_output_delta", "check_weight_decay"]


def _fits_at_scale(ctx: Context, names: tuple[str, ...]) -> list[DeltaFit]:
    """The hypotheses among ``names`` that explain the gradient at the loss's own scale (or B times it,
    when the batch average is missing too)."""
    B = ctx.batch.size
    return [f for f in (ctx.delta_fits.get(n) for n in names)
            if f is not None and f.explains and (near(f.scale, 1.0) or near(f.scale, B))]


def _better_than_correct(ctx: Context, best: DeltaFit) -> bool:
    """The correct delta does not explain the evidence as well (with two classes and one example, the
    doubled softmax delta is o0·o1·(o − t): "correct" then fits only at that odd scale)."""
    correct, B = ctx.delta_fits.get("correct"), ctx.batch.size
    return not (correct is not None and correct.agree and correct.residual < 10 * best.residual
                and (near(correct.scale, 1.0) or near(correct.scale, B)))


def _fit_evidence(ctx: Context, fit: DeltaFit) -> dict[str, object]:
    """The evidence of a finding named by its fitted hypothesis: which, on what, at what scale, and the rest."""
    return {"hypothesis": fit.hypothesis, "source": fit.source, "scale": fit.scale, **_evidence(ctx)}


def _evidence(ctx: Context) -> dict[str, object]:
    fits = ctx.delta_fits
    out: dict[str, object] = {f"residual_{name.replace('-', '_')}": f.residual for name, f in fits.items()}
    model = ctx.output_model
    if model is not None:
        out["outputs"] = model.describe()
    out["batch_size"] = ctx.batch.size
    return out


def _residuals(ctx: Context) -> str:
    return ", ".join(f"{name} {fmt(f.residual)}" for name, f in ctx.delta_fits.items())


def _doubled(ctx: Context, model: OutputModel) -> Finding | None:
    doubled = _fits_at_scale(ctx, ("elementwise", "jacobian"))
    if not doubled:
        return None
    best = min(doubled, key=lambda f: f.residual)
    if not _better_than_correct(ctx, best):
        return None
    B = ctx.batch.size
    summed = " and summed, not averaged, over the batch" if near(best.scale, B) and B > 1 else ""
    if model.activation in ("softmax", "scores"):
        form = "(o − t)·o·(1 − o)" if best.hypothesis == "elementwise" else "J_softmaxᵀ(o − t)"
        return DOUBLED_SOFTMAX.finding(
            layer=ctx.output_layer,
            message=f"the analytic gradient is what you get from the output delta {form}{summed} (relative residual "
            f"{fmt(best.residual)} on the {best.source}), not from o − t. Residual of each hypothesis: "
            f"{_residuals(ctx)}. With softmax outputs and cross-entropy, dE/dz is simply o − t: the softmax "
            f"derivative is already folded in, so multiplying by it again shrinks the delta wherever the network is "
            f"confident and the network learns slowly or not at all.",
            fix="Use delta = o - t at the output layer (divided by the batch size if the loss is a batch mean); "
            "drop the extra multiplication by o * (1 - o) or by the softmax Jacobian.",
            evidence=_fit_evidence(ctx, best),
        )
    if model.activation != "sigmoid":
        return None
    return DOUBLED_SIGMOID.finding(
        layer=ctx.output_layer,
        message=f"the analytic gradient is what you get from the output delta (o − t)·o·(1 − o){summed} (relative "
        f"residual {fmt(best.residual)} on the {best.source}), not from o − t. Residual of each hypothesis: "
        f"{_residuals(ctx)}. With sigmoid outputs and binary cross-entropy, dE/dz is simply o − t: the sigmoid "
        f"derivative σ′ = o·(1 − o) is already folded in, so multiplying by it again starves the delta wherever "
        f"the network is confident.",
        fix="Use delta = o - t at the output layer (divided by the batch size for a mean loss); drop the extra "
        "o * (1 - o), or, if the loss's derivative dE/do = (o - t) / (o (1 - o)) is computed, apply σ′ once only.",
        evidence=_fit_evidence(ctx, best),
    )


def _missing_derivative(ctx: Context, model: OutputModel) -> Finding | None:
    fits = _fits_at_scale(ctx, ("missing-derivative",))
    if not fits or not _better_than_correct(ctx, fits[0]):
        return None
    fit = fits[0]
    prime = "o·(1 − o)" if model.activation == "sigmoid" else "1 − o²"
    return MISSING_OUTPUT_DERIVATIVE.finding(
        layer=ctx.output_layer,
        message=f"the analytic gradient is what you get from the output delta o − t (relative residual "
        f"{fmt(fit.residual)} on the {fit.source}), the derivative with respect to the outputs, not to the "
        f"{model.activation}'s input. Residual of each hypothesis: {_residuals(ctx)}. With {model.describe()}, "
        f"dE/dz = (o − t)·{prime}: the activation's derivative is missing.",
        fix="Multiply the output delta by the output activation's derivative: delta = (o - t) * "
        f"{prime.replace('·', ' * ')} (or switch to the cross-entropy loss, whose delta is o - t).",
        evidence=_fit_evidence(ctx, fit),
    )


def _half(ctx: Context, model: OutputModel) -> Finding | None:
    fit = ctx.delta_fits.get("correct")
    if model.loss != "squared error" or fit is None or not fit.explains:
        return None
    if not (near(fit.scale, 2.0) or near(fit.scale, 0.5)):
        return None
    which = ("the gradient has a factor 2 the loss lacks (a ½ in the loss, ½‖o − t‖², but 2(o − t) in its "
             "derivative)" if near(fit.scale, 2.0) else
             "the gradient is half the loss's (‖o − t‖² in the loss, but (o − t) without the 2 in its derivative)")
    return SQUARED_ERROR_HALF.finding(
        layer=ctx.output_layer,
        message=f"the analytic gradient is {fmt(fit.scale, 4)}× the gradient of the loss on every tensor (relative "
        f"residual {fmt(fit.residual)} on the {fit.source}; {model.describe()}): {which}. The loss and its "
        f"derivative must agree about the ½ of squared error, or the effective learning rate is off by 2.",
        fix="Use ½‖o - t‖² with delta o - t, or ‖o - t‖² with delta 2 (o - t): the same convention in the loss "
        "and in its derivative.",
        evidence={"factor": fit.scale, "residual": fit.residual, "source": fit.source, **_evidence(ctx)},
    )


@register(DOUBLED_SOFTMAX, DOUBLED_SIGMOID, MISSING_OUTPUT_DERIVATIVE, SQUARED_ERROR_HALF, requires=("predict",),
          analytic=True)
def check_output_delta(ctx: Context) -> Iterator[Finding]:
    """Which output delta the gradient was built from: the activation's derivative applied again (softmax,
    sigmoid), missing (squared error through a sigmoid or tanh), or the ½ of squared error in only one of
    the loss and the gradient."""
    if not ctx.gradient_is_wrong:
        return
    model = ctx.output_model
    if model is None:
        return
    finding = _half(ctx, model) or _doubled(ctx, model) or _missing_derivative(ctx, model)
    if finding is not None:
        yield finding


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


def _value(ctx: Context, model: OutputModel) -> float:
    from .deltas import _data_term

    out = ctx.outputs
    return math.nan if out is None else _data_term(model, out.raw, out.targets)


def _summed_loss(ctx: Context) -> Iterator[Finding]:
    models, B, loss = ctx.output_models, ctx.batch.size, ctx.measurement.base_loss
    model = models[0] if len(models) == 1 else None
    if model is None or model.reduction != "summed" or ctx.batch.layout == "sequence" or B < 2:
        return  # (a summed loss over time steps is the norm)
    if abs(loss - _value(ctx, model)) > 1e-7 * max(abs(loss), 1e-12):
        return  # only an exact match says what the loss is
    if getattr(ctx.view.kit_loss, "identified", False):
        return  # the sum is the kit's reading of the gradient (noted), not a loss the user wrote
    yield SUMMED_LOSS.finding(
        layer=None,
        message=f"the loss ({fmt(loss, 4)}) is the sum over the batch of {B} of the per-example {model.loss}, not its "
        f"mean. Gradients agree with it, but a learning rate tuned at one batch size is {B}× too large at another.",
        fix="Average the loss and its gradient over the batch (divide both by B) so the learning rate does "
        "not depend on the batch size; or keep the sum and scale lr by 1/B.",
        evidence={"loss": loss, "batch_size": B, "outputs": model.describe()},
    )


@register(MISSING_BATCH_AVERAGE, SUMMED_LOSS, analytic=True)
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


def _transpose_residual(ctx: Context, t: TensorCheck) -> tuple[float, float]:
    """Relative residual of numeric[i, j] ≈ analytic[j, i] over the checked entries, and — when an L2 term
    λ·W was added after the transpose — of numeric[i, j] ≈ analytic[j, i] + λ·(W[i, j] − W[j, i]), with λ
    fitted. Returns (residual, λ); λ is 0 without L2."""
    index, _, n = t.decisive_arrays()
    if len(t.shape) != 2 or min(t.shape) < 2 or n.size < 2:  # an (n, 1) or (1, n) transpose is the identity
        return math.inf, 0.0
    rows, cols = t.shape
    a = ctx.measurement.analytic[t.param].reshape(cols, rows).T[index]
    norm = float(np.linalg.norm(n))
    if norm == 0:
        return math.inf, 0.0
    plain = float(np.linalg.norm(a - n)) / norm
    if plain < EXPLAINED or t.shape[0] != t.shape[1]:
        return plain, 0.0
    W = np.asarray(ctx.view.params[t.param], dtype=np.float64)
    asym = (W - W.T)[index]
    lam, _ = fit_scale(n - a, asym)
    if not math.isfinite(lam):
        return plain, 0.0
    return float(np.linalg.norm(n - a - lam * asym)) / norm, lam


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


def _factor(ctx: Context, layer: str, t: TensorCheck, scale: float, numbers: str) -> Finding | None:
    """A tensor off by a constant factor: the batch size (its average missing), 1/B (averaged twice), −1,
    or another constant."""
    B = ctx.batch.size
    evidence = {"param": t.param, "factor": scale}
    if near(scale, -1.0):
        return SIGN_FLIPPED.finding(
            layer=layer, evidence=evidence,
            message=f"{t.param}: analytic gradient is {fmt(scale, 4)}× the finite-difference gradient ({numbers}). "
            f"A flipped sign makes gradient descent climb the loss.",
            fix=f"Flip the sign of {t.param}'s gradient (look for t - o instead of o - t, or a += that should be -=).")
    if B > 1 and near(scale, B):
        return MISSING_BATCH_AVERAGE.finding(
            layer=layer, evidence={**evidence, "batch_size": B},
            message=f"{t.param}: analytic gradient is {fmt(scale, 4)}× the finite-difference gradient, exactly the "
            f"batch size {B} ({numbers}): this tensor's gradient is a sum over the batch while the loss is a mean, so "
            f"it takes {B}× too large a step.",
            fix=f"Divide {t.param}'s gradient by the batch size (for a bias: db = delta.sum(axis=0) / B).")
    if near(scale, 1.0):
        return None
    twice = f" — exactly 1/B for a batch of {B}: the batch average is taken twice" if B > 1 and near(scale * B, 1) \
        else ""
    return SCALED.finding(
        layer=layer, evidence=evidence,
        message=f"{t.param}: analytic gradient is {fmt(scale, 4)}× the finite-difference gradient ({numbers}){twice}. "
        f"A constant factor silently rescales the learning rate of this tensor.",
        fix=(f"Divide by the batch size once only in {t.param}'s gradient (the delta it receives is already a mean)."
             if twice else f"Find the stray factor {fmt(scale, 4)} in {t.param}'s gradient (a missing ½ in a squared "
             f"loss, a doubled term, a wrong normalisation)."))


def _shape_of_error(ctx: Context, layer: str, t: TensorCheck) -> Finding | None:
    """A sign flip, a constant factor or a transpose that explains one failing tensor, if one does."""
    scale, residual = _tensor_fit(ctx, t)
    numbers = (f"{t.checked} entries and {len(t.probes)} directions; relative residual {fmt(residual)}; "
               f"eps {fmt(t.step)}, {t.working_dtype}")
    if residual < EXPLAINED and math.isfinite(scale):
        return _factor(ctx, layer, t, scale, numbers) if _factor_is_evidence(ctx, layer, t, scale) else None
    if t not in ctx.measurement.tensors:
        return None  # an isolated check keeps no full gradient to transpose
    transposed, lam = _transpose_residual(ctx, t)
    if transposed < EXPLAINED:
        l2 = (f" and an L2 term {fmt(lam, 3)}·W added after the transpose (it is right, which is why the "
              f"untransposed entries disagree by less than their size)") if lam else ""
        return TRANSPOSED.finding(
            layer=layer,
            message=f"{t.param}: the analytic gradient, transposed{l2}, matches the finite differences (relative "
            f"residual {fmt(transposed)} over {t.decisive_arrays()[2].size} entries; untransposed max rel. error "
            f"{fmt(t.max_rel_error)}). The shapes agree only because the matrix is square.",
            fix=f"Swap the operands of {t.param}'s gradient: for z = a @ W it is a.T @ delta, not delta.T @ a.",
            evidence={"param": t.param, "residual": transposed, "shape": str(t.shape), "l2": lam},
        )
    return None


def _factor_is_evidence(ctx: Context, layer: str, t: TensorCheck, scale: float) -> bool:
    """A constant factor names a cause only if it could have failed to fit: the tensor's numeric values
    vary in more than sign (a two-class softmax bias, (a, −a), fits any factor), and every other failing
    tensor of the layer is off by the same factor (a wrong delta scales W and b differently)."""
    _, _, numeric = t.decisive_arrays()
    magnitudes = np.abs(numeric[numeric != 0])
    if magnitudes.size < 2 or np.ptp(magnitudes) <= 1e-6 * float(np.max(magnitudes)):
        return False
    for other in ctx.tensors_of(layer):
        if other is t or other.verdict != "fail":
            continue
        c, residual = _tensor_fit(ctx, other)
        if residual >= EXPLAINED or not near(c, scale):
            return False
    return True


def _failing(ctx: Context) -> Iterator[tuple[str, TensorCheck]]:
    """Failing tensors where an error enters: the whole network's in origin layers, then the isolated
    checks of layered models' parameters (a layer's own backward, judged where the whole network's kinks
    left the tensor undecided)."""
    explained = ctx.found(DOUBLED_SOFTMAX.code) or ctx.found(MISSING_BATCH_AVERAGE.code) or ctx.found(
        DOUBLED_SIGMOID.code) or ctx.found(MISSING_OUTPUT_DERIVATIVE.code) or ctx.found(SQUARED_ERROR_HALF.code)
    seen = set()
    for layer in ctx.attribution.origins:
        if explained and layer == ctx.output_layer:
            continue  # a wrong output delta scales every tensor; it is named once, not per tensor
        if ctx.attribution.culprit(layer) is not None:
            continue  # its own backward is right: the factor comes from the culprit (backward-mismatch says it)
        for t in ctx.tensors_of(layer):
            if t.verdict == "fail":
                seen.add(t.param)
                yield layer, t
    for t in ctx.measurement.isolated:
        if t.verdict == "fail" and not t.param.endswith(".x") and t.param not in seen:
            whole = ctx.measurement.by_param.get(t.param)
            if whole is None or whole.verdict != "pass":
                yield t.layer, t


@register(SIGN_FLIPPED, SCALED, TRANSPOSED, ZERO, MISSING_BATCH_AVERAGE,
          reads=(DOUBLED_SOFTMAX, DOUBLED_SIGMOID, MISSING_OUTPUT_DERIVATIVE, SQUARED_ERROR_HALF,
                 MISSING_BATCH_AVERAGE), analytic=True)
def check_gradient_sign_scale_transpose(ctx: Context) -> Iterator[Finding]:
    """In each layer where an error enters: is a wrong tensor −1×, B×, c×, or the transpose of the truth?"""
    for layer, t in _failing(ctx):
        finding = (_zero(layer, t) if not np.any(_analytic(ctx, t)) else _shape_of_error(ctx, layer, t))
        if finding is not None:
            yield finding


def _analytic(ctx: Context, t: TensorCheck) -> np.ndarray:
    """The analytic gradient of a tensor: the whole network's, or (isolated checks) its table's values."""
    if t.param in ctx.measurement.analytic and t in ctx.measurement.tensors:
        return ctx.measurement.analytic[t.param]
    return t.table.analytic


def _yours(ctx: Context) -> str:
    return "your gradient" if ctx.view.own_gradient else f"the update {ctx.view.step_description()} makes"


def _kit_loss_named(ctx: Context) -> str:
    kit = getattr(ctx.view, "kit_loss", None)
    return kit.describe() if kit is not None else "its own loss"


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
            message=f"for {listed}, {_yours(ctx)} differs from the gradient of the kit's loss by exactly "
            f"{fmt(c, 4)}·W: it applies L2 weight decay. The model has no loss(X, y), so the kit compares with "
            f"{_kit_loss_named(ctx)}, which has no such term; apart from it the gradients agree.",
            fix=f"Nothing to fix if the decay is intended. To have it checked, give the model a loss(X, y) that adds "
            f"0.5 * {fmt(c, 4)} * sum(W**2) over these weights.",
            evidence={"coefficient": c, "params": listed},
        )
        return
    direction = ("the gradient includes an L2 weight-decay term that the loss does not" if c > 0
                 else "the loss includes an L2 weight-decay term that the gradient does not")
    biases = [n for n in names if _is_bias(ctx, n)]
    note = (f" {', '.join(biases)} {'is a bias' if len(biases) == 1 else 'are biases'}: usually not regularised at "
            f"all." if biases else "")
    yield WEIGHT_DECAY.finding(
        layer=layers[0] if len(layers) == 1 else None,
        message=f"{listed}: the analytic gradient minus the numeric one is exactly {fmt(c, 4)} times the tensor itself "
        f"(relative residual below {fmt(EXPLAINED)}), so {direction}. Apart from that term the gradients agree.{note}",
        fix=(f"Add 0.5 * {fmt(c, 4)} * sum(p**2) over these tensors to the loss, or drop {fmt(c, 4)} * p from "
             f"their gradients{' (for biases, drop it)' if biases else ''}."
             if c > 0 else f"Add {fmt(-c, 4)} * p (the gradient of the L2 term) to each of these gradients."),
        evidence={"coefficient": c, "params": listed},
    )


def _is_bias(ctx: Context, name: str) -> bool:
    """A bias by name (b2, bias, biases) or shape (one axis longer than 1, beside a matrix in its layer)."""
    leaf = name.rsplit(".", 1)[-1].split("[", maxsplit=1)[0].lower()
    return leaf.startswith("b") and not leaf.startswith("beta")
