"""Checks of recurrent code: is the gradient carried back through every time step?"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from ..measure.directions import model_directions
from .codes import TRUNCATED_BPTT
from .context import Context
from .findings import Finding
from .registry import register

__all__ = ["check_backprop_through_time"]

#: The longest prefix of the sequence the gradient is re-checked on.
PREFIXES = 4


def _agrees(ctx: Context, steps: int) -> bool:
    """Whether the analytic gradient agrees with the loss's directional derivatives on the first ``steps``
    steps of the sequence (two random directions over every parameter), from a random initial state: with
    a zero state some terms vanish on the first step (an LSTM's forget gate, for one), and a wrong
    derivative there would look right."""
    rng = np.random.default_rng(ctx.settings.seed + 8)
    state = tuple(np.tanh(rng.standard_normal(np.shape(e))) if isinstance(e, np.ndarray) and e.dtype.kind == "f"
                  else e for e in ctx.batch.extra)
    part = replace(ctx.batch.take(slice(0, steps)), extra=state)
    analytic = ctx.view.gradients(part)
    found = model_directions(ctx.view, part, analytic, {}, count=2, rng=np.random.default_rng(ctx.settings.seed + 7),
                             eps=ctx.settings.eps)
    for d in found:
        if not d.smooth or not math.isfinite(d.loss):
            return False
        if abs(d.analytic - d.loss) > 1e-6 * max(abs(d.analytic), abs(d.loss)) + 1e-9:
            return False
    return True


@register(TRUNCATED_BPTT, requires=("network",))
def check_backprop_through_time(ctx: Context) -> Iterator[Finding]:
    """On a sequence, a gradient right for the first few steps and wrong for the whole sequence, with the
    wrong tensors too small (terms missing), has not been carried back through every step."""
    T = ctx.batch.size
    if ctx.batch.layout != "sequence" or not ctx.gradient_is_wrong or T < 2:
        return
    failing = [t for t in ctx.measurement.tensors if t.verdict == "fail"]
    ratios = [t.norm_ratio for t in failing if math.isfinite(t.norm_ratio)]
    # terms missing leave the gradients smaller; a wrong (transposed, doubled) term need not
    missing = bool(ratios) and float(np.median(ratios)) < 1
    longest = 0
    for steps in range(1, min(PREFIXES, T - 1) + 1):
        if not _agrees(ctx, steps):
            break
        longest = steps
    if longest == 0:
        return
    tensors = ", ".join(t.param for t in failing)
    what = ("what is missing are the terms that reach earlier steps (the failing gradients are smaller than the "
            "true ones)" if missing else "the terms that reach earlier steps are missing or wrong (the failing "
            "gradients are not uniformly smaller, so a wrong term — dhnext through Whh instead of Whh.T, or scaled "
            "— is as likely as a missing one)")
    yield TRUNCATED_BPTT.finding(
        layer=ctx.attribution.first_wrong_layer,
        message=f"the gradient agrees with finite differences on the first {longest} step(s) of the sequence and "
        f"disagrees on all {T}: the backward pass does not carry the recurrent gradient (the hidden-state, or "
        f"cell-state, gradient from later steps) back through every step correctly. From a random initial state "
        f"the first step's gradient is right, so each step's own derivatives are; {what} (wrong: {tensors}).",
        fix="In the backward loop over time, add the gradient coming from step t+1 to step t's (dh = dy_t @ Why.T + "
        "dhnext; for an LSTM also dc = dh * o * tanh'(c) + dc_next), and carry it to step t-1 through the transpose "
        "of the recurrent matrix (dhnext = Whh.T @ dhraw).",
        evidence={"steps": T, "steps_right": longest, "tensors": tensors[:200], "smaller": missing},
    )
