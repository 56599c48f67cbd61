"""Checks of the model's own training step against the gradient the kit verified."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..errors import GradcheckError
from ..numeric.fitting import EXPLAINED, fit_scale, near
from .codes import MISSING_BATCH_AVERAGE, STEP_MISMATCH
from .context import Context
from .findings import Finding
from .findings import format_number as fmt
from .registry import register

__all__ = ["check_training_step"]


@register(MISSING_BATCH_AVERAGE, STEP_MISMATCH, requires=("lr", "train", "own_gradient", "network"), analytic=True)
def check_training_step(ctx: Context) -> Iterator[Finding]:
    """A plain SGD step moves each tensor by −lr × its gradient. Read the gradient off one step of the
    model's own training method and compare it, tensor by tensor, with the gradient checked above: a
    factor of exactly B is a batch average missing in the step, another constant a wrong step. A step
    that keeps optimizer state (momentum, Adam) or is no multiple of the gradient is not judged."""
    lr = ctx.settings.lr
    if lr is None or ctx.gradient_is_wrong:
        return
    if ctx.view.optimizer_state(ctx.batch):
        ctx.view.notes.add(f"{ctx.view.step_description()} keeps optimizer state "
                           f"({', '.join(ctx.view.optimizer_state(ctx.batch)[:4])}), so it is not compared with "
                           "−lr × the gradient")
        return
    try:
        stepped = ctx.view.inferred_gradients(ctx.batch, lr)
    except GradcheckError as exc:
        ctx.view.notes.add(f"{ctx.view.step_description()} could not be compared with −lr × the gradient: {exc}")
        return
    B = ctx.batch.size
    factors = {}
    for name, g in ctx.measurement.analytic.items():
        scale, residual = fit_scale(stepped[name], g)
        if residual < EXPLAINED and math.isfinite(scale) and not near(scale, 1.0):
            factors[name] = scale
        elif residual >= EXPLAINED and np.any(g):
            return  # not plain SGD: nothing to say
    if not factors:
        return
    step = ctx.view.step_description()
    by_b = [n for n, c in factors.items() if B > 1 and near(c, B)]
    if by_b:
        names = ", ".join(by_b)
        yield MISSING_BATCH_AVERAGE.finding(
            layer=None,
            message=f"{step} moves {names} by {B}× −lr × the gradient (the batch size is {B}): the step sums the "
            f"batch's gradients while the loss averages them, so every step is {B}× too large. The gradient itself "
            f"agrees with the loss.",
            fix=f"Divide the update of {names} by the batch size (eta / len(mini_batch) * nabla), as for the others.",
            evidence={"params": names[:200], "batch_size": B, "lr": lr},
        )
    others = {n: c for n, c in factors.items() if n not in by_b}
    if others:
        listed = ", ".join(f"{n} {fmt(c, 4)}×" for n, c in others.items())
        yield STEP_MISMATCH.finding(
            layer=None,
            message=f"{step} moves these tensors by a constant times −lr × the gradient: {listed}. The gradient itself "
            f"agrees with the loss, so the step uses a wrong rate or sign for them.",
            fix="Update every parameter as p -= lr * grad, with the same lr and sign for all.",
            evidence={"factors": listed[:200], "lr": lr},
        )
