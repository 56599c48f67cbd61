"""Layer-by-layer checks of layered models: whose own backward is wrong, walking back from the loss."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..findings import Finding, format_number as fmt
from ..losses import is_probabilities
from ..probes import fit_scale
from .causes import DOUBLED_SOFTMAX, EXPLAINED
from .gradients import counts, describe_tensor
from .registry import CodeInfo, register

if TYPE_CHECKING:
    from ..numeric.comparison import TensorCheck
    from .context import Context

__all__ = ["check_layer_backwards", "check_loss_layer_delta"]

BACKWARD_MISMATCH = CodeInfo("backward-mismatch", "error",
                             "a layer's own backward disagrees with finite differences, checked in isolation")


def _layers_back(ctx: Context) -> list[tuple[str, list[TensorCheck]]]:
    order: dict[str, list[TensorCheck]] = {}
    for t in ctx.measurement.isolated:
        order.setdefault(t.layer, []).append(t)
    return list(reversed(order.items()))


@register(BACKWARD_MISMATCH)
def check_layer_backwards(ctx: Context) -> Iterator[Finding]:
    """One finding per layer whose backward is wrong on its own; the first, walking back, is marked."""
    first = True
    for layer, tensors in _layers_back(ctx):
        failing = [t for t in tensors if t.verdict == "fail"]
        if not failing:
            continue
        worst = max(failing, key=lambda t: t.max_rel_error if math.isfinite(t.max_rel_error) else math.inf)
        what = ", ".join("dx" if t.param.endswith(".x") else "d" + t.param.rsplit(".", 1)[1] for t in failing)
        where = ("This is the first layer walking back from the loss whose own backward is wrong"
                 if first else "This layer's own backward is also wrong")
        yield Finding(
            code=BACKWARD_MISMATCH.code,
            severity="error",
            layer=layer,
            message=f"{layer}: backward(dout) returns wrong {what} for a random upstream gradient dout ({worst.param} "
            f"disagrees at {counts(worst)}; {describe_tensor(worst)}). {where}; the layer was checked on its own, so "
            f"the error is not inherited.",
            fix=f"Re-derive {layer}'s backward: dx = dout · ∂forward/∂x (and each parameter's gradient) for its own "
            f"forward; compare with the numeric values above.",
            evidence={"param": worst.param, "max_rel_error": worst.max_rel_error, "wrong": what, "first_wrong": first},
        )
        first = False


@register(DOUBLED_SOFTMAX)
def check_loss_layer_delta(ctx: Context) -> Iterator[Finding]:
    """A loss layer fed with probabilities whose backward returns (o − t): the softmax derivative is then
    applied again by the softmax layer before it."""
    tensors = [t for t in ctx.measurement.isolated if t.param.endswith(".x")]
    if not tensors or ctx.batch.y.ndim > 2:
        return
    loss_check = tensors[-1]
    view = ctx.view
    loss_layer = getattr(view, "loss_layer", None)
    if loss_layer is None or loss_check.layer != loss_layer.id or loss_check.verdict != "fail":
        return
    probs = view.activations(ctx.batch.X)[-1]
    if not is_probabilities(np.asarray(probs, dtype=np.float64)):
        return
    B = ctx.batch.size
    t = ctx.batch.one_hot(probs.shape[1])
    view._call(f"{loss_layer.id}.forward", loss_layer.forward, probs, ctx.batch.y)
    dx = np.asarray(view._call(f"{loss_layer.id}.backward", loss_layer.backward))
    scale, residual = fit_scale(dx.reshape(-1), (probs - t).reshape(-1))
    if residual < EXPLAINED and (abs(scale * B - 1) < 0.01 or abs(scale - 1) < 0.01):
        yield Finding(
            code=DOUBLED_SOFTMAX.code,
            severity="error",
            layer=loss_layer.id,
            message=f"{loss_layer.id}: its forward takes probabilities o from the softmax before it, but its backward "
            f"returns {fmt(scale * B, 3)}·(o − t)/B (relative residual {fmt(residual)}), the gradient with respect to the "
            f"softmax's *input*. The softmax layer's backward then applies the softmax derivative a second time. "
            f"With respect to its own input o, the cross-entropy gradient is −t/o (divided by B for a mean).",
            fix="Either return -t / (B * o) from the loss layer's backward, or merge softmax and cross-entropy into one "
            "layer whose backward returns (o - t) / B and drop the separate softmax backward.",
            evidence={"scale": scale, "residual": residual, "batch_size": B},
        )
