"""Layer-by-layer checks of layered models: whose own backward is wrong, walking back from the loss."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import cast

import numpy as np

from ..model.layers import LayeredView
from ..numeric.comparison import TensorCheck
from ..numeric.fitting import EXPLAINED, fit_scale
from ..numeric.losses import is_probabilities
from .codes import BACKWARD_MISMATCH, DOUBLED_SOFTMAX, MAX_POOL_TIES
from .context import Context
from .findings import Finding
from .findings import format_number as fmt
from .messages import counts, describe_tensor
from .registry import register

__all__ = ["check_layer_backwards", "check_loss_layer_delta", "check_pooling_ties"]


def _layers_back(ctx: Context) -> list[tuple[str, list[TensorCheck]]]:
    order: dict[str, list[TensorCheck]] = {}
    for t in ctx.measurement.isolated:
        order.setdefault(t.layer, []).append(t)
    return list(reversed(order.items()))


@register(BACKWARD_MISMATCH, requires=("layered",))
def check_layer_backwards(ctx: Context) -> Iterator[Finding]:
    """One finding per layer whose backward is wrong on its own; the first, walking back, is marked. A
    first layer's dx of the wrong shape is a warning: nothing uses it here, but it is wrong anywhere else."""
    view = cast(LayeredView, ctx.view)
    problem = view.layers[0].dx_problem if view.layers else None
    if problem is not None:
        layer = view.layers[0].id
        yield BACKWARD_MISMATCH.finding(
            severity="warning", layer=layer,
            message=f"{layer}: backward returns dx of shape {problem[0]}, but the layer's input has shape "
            f"{problem[1]}. As the first layer its dx feeds nothing here, so its parameters were still checked; "
            f"placed after another layer it would break the backward pass.",
            fix="Return dx with the shape of the layer's input (for x of shape (n, 1): weights.T @ output_gradient).",
            evidence={"layer": layer, "dx_shape": str(problem[0]), "x_shape": str(problem[1])},
        )
    first = True
    for layer, tensors in _layers_back(ctx):
        failing = [t for t in tensors if t.verdict == "fail"]
        if not failing:
            continue
        worst = max(failing, key=lambda t: t.max_rel_error if math.isfinite(t.max_rel_error) else math.inf)
        what = ", ".join("dx" if t.param.endswith(".x") else "d" + t.param.rsplit(".", 1)[1] for t in failing)
        where = ("This is the first layer walking back from the loss whose own backward is wrong"
                 if first else "This layer's own backward is also wrong")
        yield BACKWARD_MISMATCH.finding(
            layer=layer,
            message=f"{layer}: {_returns(ctx, layer)} wrong {what} ({worst.param} disagrees at {counts(worst)}; "
            f"{describe_tensor(worst)}).{_factor(ctx, worst)} {where}; the layer was checked on its own, so the "
            f"error is not inherited.",
            fix=f"Re-derive {layer}'s backward: dx = dout · ∂forward/∂x (and each parameter's gradient) for its own "
            f"forward; compare with the numeric values above.",
            evidence={"param": worst.param, "max_rel_error": worst.max_rel_error, "wrong": what, "first_wrong": first},
        )
        first = False


def _returns(ctx: Context, layer: str) -> str:
    if layer == cast(LayeredView, ctx.view).loss_layer.id:
        return "the loss's derivative with respect to the outputs returns"
    return "backward(dout) returns, for a random upstream gradient dout,"


def _factor(ctx: Context, t: TensorCheck) -> str:
    """`` It is exactly c× the true one`` when a constant explains it, with what the constant is."""
    _, a, n = t.decisive_arrays()
    probes = [(p.judgement.analytic, p.judgement.numeric) for p in t.probes if p.judgement.status != "inconclusive"]
    if probes:
        pa, pn = np.array(probes).T
        a, n = np.concatenate([a, pa]), np.concatenate([n, pn])
    if a.size < 2:
        return ""
    scale, residual = fit_scale(a, n)
    if residual >= EXPLAINED or not math.isfinite(scale) or abs(scale - 1) < 0.01:
        return ""
    out_width = int(np.prod(ctx.batch.target_rows.shape[1:])) if ctx.batch.target_rows.ndim > 1 else 1
    known = {ctx.batch.size: "the batch size", out_width: "the number of outputs per example", -1: "a flipped sign"}
    meaning = next((f" ({v}: an average taken in the forward pass but not in the backward)" if k > 1 else f" ({v})"
                    for k, v in known.items() if k != 1 and abs(scale - k) < 0.01 * abs(k)), "")
    return f" It is exactly {fmt(scale, 4)}× the true one{meaning}."


@register(DOUBLED_SOFTMAX, requires=("layered",))
def check_loss_layer_delta(ctx: Context) -> Iterator[Finding]:
    """A loss layer fed with probabilities whose backward returns (o − t): the softmax derivative is then
    applied again by the softmax layer before it."""
    view = cast(LayeredView, ctx.view)  # registered with requires=("layered",)
    tensors = [t for t in ctx.measurement.isolated if t.param.endswith(".x")]
    if not tensors or ctx.batch.target_rows.ndim > 2 or view.per_example:
        return
    loss_check = tensors[-1]
    if loss_check.layer != view.loss_layer.id or loss_check.verdict != "fail":
        return
    probs = view.activations(ctx.batch)[-1]
    if not is_probabilities(np.asarray(probs, dtype=np.float64)):
        return
    B = ctx.batch.size
    t = ctx.batch.one_hot(probs.shape[1])
    view.loss_forward(probs, ctx.batch.y)
    dx = np.asarray(view.loss_backward())
    scale, residual = fit_scale(dx.reshape(-1), (probs - t).reshape(-1))
    if residual < EXPLAINED and (abs(scale * B - 1) < 0.01 or abs(scale - 1) < 0.01):
        yield DOUBLED_SOFTMAX.finding(
            layer=view.loss_layer.id,
            message=f"{view.loss_layer.id}: its forward takes probabilities o from the softmax before it, but its "
            f"backward returns {fmt(scale * B, 3)}·(o − t)/B (relative residual {fmt(residual)}), the gradient with "
            f"respect to the softmax's *input*. The softmax layer's backward then applies the softmax derivative a "
            f"second time. With respect to its own input o, the cross-entropy gradient is −t/o (divided by B for a "
            f"mean).",
            fix="Either return -t / (B * o) from the loss layer's backward, or merge softmax and cross-entropy into "
                "one "
            "layer whose backward returns (o - t) / B and drop the separate softmax backward.",
            evidence={"scale": scale, "residual": residual, "batch_size": B},
        )


@register(MAX_POOL_TIES, requires=("layered",))
def check_pooling_ties(ctx: Context) -> Iterator[Finding]:
    """A parameter-free layer that selects (every output is one of its inputs, fewer outputs than inputs)
    and whose backward fails: with an upstream gradient of ones, a backward that routes each output's
    gradient to one input hands out exactly as many units as there are outputs. More means the gradient
    of a window went to every tied maximum (blank image regions tie at 0)."""
    view = cast(LayeredView, ctx.view)
    failing = {t.layer for t in ctx.measurement.isolated if t.param.endswith(".x") and t.verdict == "fail"}
    activations = None
    for index, layer in enumerate(view.layers):
        if layer.id not in failing or layer.slots:
            continue
        activations = activations if activations is not None else view.activations(ctx.batch)
        x = np.asarray(activations[index], dtype=np.float64)
        out = np.asarray(view.layer_forward(layer, x), dtype=np.float64)
        if out.size >= x.size or not np.all(np.isin(out, x)):
            continue
        dx = view.layer_backward(layer, np.ones_like(out), x)[0]
        if dx is None:
            continue
        handed = float(np.sum(dx))
        tied = int(np.sum(np.isin(x, out))) - int(np.unique(out).size)
        if handed <= out.size * (1 + 1e-9) or tied <= 0:
            continue
        yield MAX_POOL_TIES.finding(
            layer=layer.id,
            message=f"{layer.id}: every output is one of its inputs (a max-pool), but with an upstream gradient of "
            f"ones its backward hands out {fmt(handed, 6)} units of gradient for {out.size} outputs: "
            f"{fmt(handed - out.size, 6)} extra went to inputs tied for a window's maximum (its input repeats the "
            f"values of its maxima, as the zeros of blank image regions after a ReLU do). The maximum of a window "
            f"moves like one input, so its gradient must go to one of the tied inputs (or be split among them).",
            fix="Route each window's gradient to a single position: mask = (x_window == max) and keep only its first "
            "True (np.argmax on the flattened window), instead of dx[window] += dout * mask.",
            evidence={"layer": layer.id, "handed_out": handed, "outputs": int(out.size)},
        )
