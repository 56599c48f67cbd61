"""Training-dynamics checks, run on the private copy at the user's learning rate."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..measure.replay import OnlineReplay, full_batch_losses, online_replay
from ..model.batch import Batch
from .codes import DOUBLED_SOFTMAX, EXPLODING_LR, LABEL_COLLAPSE
from .context import Context
from .findings import Finding
from .findings import format_number as fmt
from .registry import register

__all__ = ["LR_NOTE", "check_learning_rate_stable", "check_predictions_follow_last_label"]

#: Full-batch steps replayed for the learning-rate check.
STEPS = 5
#: Per-example steps replayed for label collapse, cycling through the batch in order: WARMUP_STEPS that only
#: train (a fresh network whose outputs do not yet depend on the input passes through a transient phase
#: that is not collapse), then COUNTED_STEPS after each of which the batch is predicted: the first
#: WARMUP_STEPS + COUNTED_STEPS examples are trained on (cycling through a smaller batch), and at most
#: MAX_ONLINE_STEPS examples are predicted.
WARMUP_STEPS = 64
COUNTED_STEPS = 32
MAX_ONLINE_STEPS = 256
#: Collapse needs the batch predicted as the label just trained for at least this median share (among other
#: conditions); a replay whose median can no longer reach it stops early.
COLLAPSED_SHARE = 0.5


def _round_down(value: float) -> float:
    """One significant figure, rounded down (a suggested lr should err on the stable side)."""
    if not math.isfinite(value) or value <= 0:
        return math.nan
    exponent = math.floor(math.log10(value))
    return math.floor(value / 10**exponent) * 10**exponent


#: The note a report carries when no learning rate was given (formerly the finding ``lr-checks-skipped``).
LR_NOTE = ("exploding-learning-rate and label-collapse were not run: they replay training at your learning rate; "
           "pass lr=<the learning rate you train with> (--lr on the command line) to run them")


@register(EXPLODING_LR, requires=("lr", "network"))
def check_learning_rate_stable(ctx: Context) -> Iterator[Finding]:
    """A few full-batch steps at lr raise the loss (or make it non-finite) while lr/10 lowers it."""
    lr = ctx.settings.lr
    if lr is None or not math.isfinite(ctx.measurement.base_loss):
        return
    losses = full_batch_losses(ctx.view, ctx.batch, lr, STEPS)
    start, end = losses[0], losses[-1]
    # raised: ends higher, or blows up on the way (a separable batch can overshoot and then saturate to 0)
    raised = (not math.isfinite(end) or end > start + 1e-3 * max(1.0, abs(start))
              or max(losses) > 10 * max(abs(start), 1e-12))
    if not raised:
        return
    for divisor in (10, 100, 1000):  # the contrast: some smaller step does lower the loss
        small = full_batch_losses(ctx.view, ctx.batch, lr / divisor, STEPS)
        if math.isfinite(small[-1]) and small[-1] < start:
            break
    else:
        return
    lam, calls = ctx.curvature
    limit = 2 / lam if lam > 0 else math.nan
    suggested = _round_down(1 / lam) if lam > 0 else _round_down(lr / 10)
    path = " → ".join(fmt(v, 3) for v in losses)
    gradient_wrong = ctx.gradient_is_wrong
    caveat = (" The analytic gradient itself is wrong (see the gradient findings), so λ is the curvature of what that "
              "gradient descends; fix the gradient first, then re-check the learning rate." if gradient_wrong else "")
    yield EXPLODING_LR.finding(
        layer=None,
        message=(
            f"at lr {fmt(lr)}, {len(losses) - 1} full-batch steps take the loss {path}, while at lr "
            f"{fmt(lr / divisor)} it falls "
            f"to {fmt(small[-1], 4)}. The top Hessian eigenvalue is λ ≈ {fmt(lam, 2)} ({calls} gradient calls), so "
            f"gradient descent is stable only for lr < 2/λ ≈ {fmt(limit, 2)}: each step overshoots the minimum it aims "
            "at." + caveat
        ),
        fix=("First correct the wrong gradients reported above; then " if gradient_wrong else "")
        + f"lower the learning rate to about {fmt(suggested)} (≈ 1/λ), or normalise the inputs so the curvature is "
        "smaller.",
        evidence={
            "lr": lr,
            "loss_start": start,
            "loss_end": end,
            "smaller_lr": lr / divisor,
            "loss_end_small_lr": small[-1],
            "top_eigenvalue": lam,
            "stable_limit": limit,
            "suggested_lr": suggested,
            "hvp_gradient_calls": calls,
        },
    )


def _collapsed(replay: OnlineReplay, n_classes: int) -> tuple[bool, float, float, float, float]:
    """Collapse: over the counted steps (after the warm-up) where the label changes (all of them if it never
    does), after a step the batch is predicted as the label just trained far beyond its share (and beyond
    just before the step), and confidently so."""
    if not replay.share.size:
        return False, math.nan, math.nan, math.nan, math.nan
    mask = replay.label_changed if replay.label_changed.any() else np.ones(replay.share.size, dtype=bool)
    share = float(np.median(replay.share[mask]))
    before = float(np.median(replay.share_before[mask]))
    prior = float(np.median(replay.prior[mask]))
    confidence = float(np.median(replay.confidence[mask]))
    # confident: the label just trained gets at least 1.5× the probability of a uniform guess (an undecided
    # network with near-uniform outputs flips its argmax on tiny steps without that)
    confident = confidence * n_classes >= 1.5
    return (
        share >= COLLAPSED_SHARE and share - prior >= 0.3 and share - before >= 0.3 and confident,
        share,
        before,
        prior,
        confidence,
    )


@register(LABEL_COLLAPSE, requires=("lr", "predict", "network"), reads=(EXPLODING_LR, DOUBLED_SOFTMAX))
def check_predictions_follow_last_label(ctx: Context) -> Iterator[Finding]:
    """Replay one SGD step per example, in batch order; flag predictions that follow the last label."""
    lr, out, batch = ctx.settings.lr, ctx.outputs, ctx.batch
    if lr is None or out is None or batch.size < 4 or batch.target_rows.ndim != 1:
        return
    declared = ctx.view.declared_batch_size()
    if declared is not None and (declared[1] is None or declared[1] > 1):  # not the question's loop
        size = "every example at once" if declared[1] is None else f"mini-batches of {declared[1]}"
        ctx.view.notes.add(f"label-collapse was not run: {declared[0]} says the model trains on {size}, and "
                           "predictions that follow the last label come from one-example steps")
        return
    whole = ctx.view.trains_on_all_given(batch)
    if whole is not None:  # handed the training set, it steps on all of it at once
        ctx.view.notes.add(f"label-collapse was not run: {whole} makes its own passes over the data it is given, "
                           "and one call on a few examples made one update along their summed gradient, so it "
                           "trains on the whole set at once. Predictions that follow the last label come from "
                           "one-example steps")
        return
    head = _head(batch)
    steps = WARMUP_STEPS + COUNTED_STEPS
    replay = online_replay(ctx.view, head, lr, steps, out.probs_of, WARMUP_STEPS, give_up_below=COLLAPSED_SHARE)
    collapsed, share, before, prior, confidence = _collapsed(replay, out.n_classes)
    if not collapsed:
        return
    smaller = online_replay(ctx.view, head, lr / 10, steps, out.probs_of, WARMUP_STEPS)
    small_collapsed, small_share, *_ = _collapsed(smaller, out.n_classes)
    causes = _collapse_causes(ctx, replay, lr, None if small_collapsed else small_share)
    unnormalised = ctx.inputs.unnormalised
    yield LABEL_COLLAPSE.finding(
        layer=None,
        message=(
            f"replaying your training one example at a time at lr {fmt(lr)} ({steps} steps; the last "
            f"{replay.share.size} counted), "
            "after each step the network predicts the label it was just trained on for a median "
            f"{fmt(100 * share, 3)}% "
            f"of the batch (just before "
            f"that step: {fmt(100 * before, 3)}%; that label's share of the batch: {fmt(100 * prior, 3)}%; mean "
            f"probability given to it: {fmt(confidence, 3)}). It is not "
            f"learning the inputs, only the most recent label. Visible causes: " + "; ".join(causes) + "."
        ),
        fix=("First correct the wrong gradients reported above; then " if ctx.gradient_is_wrong else "")
        + ("lower the learning rate (" + fmt(lr / 10) + " does not collapse), " if not small_collapsed else "")
        + (
            f"normalise the inputs ({ctx.inputs.divide_by}), "
            if unnormalised
            else ""
        )
        + "shuffle the examples each epoch, and re-check.",
        evidence={
            "lr": lr,
            "steps": steps,
            "median_share_last_label": share,
            "median_share_before": before,
            "median_class_prior": prior,
            "median_confidence": confidence,
            "median_share_at_lr_over_10": small_share,
            "output_spread": replay.spread_start,
            "accuracy_after_replay": replay.accuracy_end,
        },
    )


def _collapse_causes(ctx: Context, replay: OnlineReplay, lr: float, small_share: float | None) -> list[str]:
    """The causes of a collapse that the evidence shows; ``small_share`` is the share at lr / 10 when
    that smaller step does not collapse."""
    causes = []
    if small_share is not None:
        causes.append(f"the step is too large for per-example updates (at lr {fmt(lr / 10)} the share falls to "
                      f"{fmt(100 * small_share, 3)}%)")
    if ctx.found(EXPLODING_LR.code):
        causes.append("the learning rate is unstable even for full-batch steps (see exploding-learning-rate)")
    if ctx.inputs.unnormalised:
        causes.append(f"unnormalised inputs: {ctx.inputs.description}")
    saturated = [a for a in ctx.activations if a.saturated_fraction >= 0.5]
    dead = [a for a in ctx.activations if a.kind == "relu" and a.dead_units >= 0.5 * a.values.shape[1]]
    if saturated:
        causes.append("saturated hidden units: " + ", ".join(
            f"{a.name} {fmt(100 * a.saturated_fraction, 2)}% in the flat tails" for a in saturated))
    if dead:
        causes.append("dead hidden units: " + ", ".join(
            f"{a.name} {a.dead_units}/{a.values.shape[1]} zero on every example" for a in dead))
    if replay.spread_start < 0.01:
        causes.append("the outputs barely depend on the input (std of probabilities across examples "
                      f"{fmt(replay.spread_start)})")
    if ctx.found(DOUBLED_SOFTMAX.code):
        causes.append("the doubled softmax derivative (see that finding) starves the output delta")
    return causes or ["none of the usual suspects is visible; try a smaller lr and shuffled examples"]


def _head(batch: Batch) -> Batch:
    """At most MAX_ONLINE_STEPS examples, in the given order."""
    if batch.size <= MAX_ONLINE_STEPS:
        return batch
    return batch.take(slice(0, MAX_ONLINE_STEPS))
