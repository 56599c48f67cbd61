"""Gradient checks: does the analytic gradient agree with central differences, layer by layer?"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..numeric.comparison import TensorCheck
from .codes import GRADIENT_MISMATCH, INCONCLUSIVE, NON_FINITE, NONDETERMINISTIC
from .context import Context
from .findings import Finding
from .findings import format_number as fmt
from .messages import counts, describe_tensor
from .registry import register

__all__ = [
    "check_forward_deterministic",
    "check_gradients_decidable",
    "check_gradients_match",
    "check_values_finite",
]


def _worst(tensors: list[TensorCheck]) -> TensorCheck:
    return max(tensors, key=lambda t: t.max_rel_error if math.isfinite(t.max_rel_error) else math.inf)


def _loss_never_moved(ctx: Context) -> bool:
    """Every finite difference the check took is exactly 0, entries and directions, while some analytic
    value is not: the loss does not read the parameters the kit moves."""
    tensors = ctx.measurement.tensors
    numeric = [np.asarray(t.table.numeric) for t in tensors] + [np.array([p.judgement.numeric for p in t.probes])
                                                               for t in tensors]
    analytic = [np.asarray(t.table.analytic) for t in tensors]
    return (sum(a.size for a in numeric) > 0 and all(np.all(a == 0) for a in numeric)
            and any(np.any(a != 0) for a in analytic))


def _why(ctx: Context, layer: str, first: bool, never_moved: bool) -> str:
    culprit = ctx.attribution.culprit(layer)
    if never_moved:
        return ("Moving any parameter leaves the loss exactly unchanged (every finite difference is 0), so the "
                "loss does not read the parameters the kit moves: with gk.wrap, loss, grads and predict must use "
                "their params argument (the kit passes its own copies), not arrays they captured elsewhere.")
    if culprit is not None:
        why = (f"Checked on its own, {layer}'s backward is right: the wrong delta comes from {culprit}, whose own "
               f"backward fails (see backward-mismatch) and which has no parameters of its own to show it.")
    elif ctx.view.kind == "function":
        why = "The inputs are checked independently, so this gradient is wrong by itself."
    elif not ctx.view.capabilities.chain:
        worst = _worst([t for t in ctx.tensors_of(layer) if t.verdict == "fail"])
        why = (f"The layers here feed each other (through time), so one wrong term makes every layer's gradient "
               f"wrong; {layer}'s own gradient is the furthest from right (norm ratio {fmt(worst.norm_ratio, 3)}, "
               f"cosine {fmt(worst.cosine, 3)}), so the error most likely enters here.")
    elif first:
        why = ("This is the first wrong layer walking back from the loss: every layer between it and the loss "
               "agrees, so the error enters in this layer's backward step — or in a step without parameters (an "
               "activation, a normalisation) between it and the next layer toward the loss.")
    else:
        why = "The layer nearer the loss agrees, so this is a separate error entering here."
    inherited = ctx.attribution.inherited_from(layer)
    if inherited and ctx.attribution.chain:
        why += (f" Layer(s) {', '.join(inherited)} nearer the input also disagree: they receive this layer's delta, "
                f"so fix this one first and check again.")
    return why


def _only_kit_loss_decay(ctx: Context, failing: list[TensorCheck]) -> bool:
    """Every failure is the weight decay the kit's stand-in loss lacks (reported as weight-decay-mismatch)."""
    decayed = set(ctx.weight_decay.params) if ctx.view.capabilities.kit_loss else set()
    return bool(decayed) and all(t.param in decayed for t in failing) and all(
        t.param in decayed for t in ctx.measurement.tensors if t.verdict == "fail")


@register(GRADIENT_MISMATCH)
def check_gradients_match(ctx: Context) -> Iterator[Finding]:
    """One ``gradient-mismatch`` per layer where an error *enters*, walking back from the loss."""
    origins = ctx.attribution.origins
    never_moved = bool(origins) and _loss_never_moved(ctx)
    for layer in origins:
        failing = [t for t in ctx.tensors_of(layer) if t.verdict == "fail"]
        if _only_kit_loss_decay(ctx, failing):
            continue
        worst = _worst(failing)
        first = layer == origins[0]
        culprit = ctx.attribution.culprit(layer)
        others = [t.param for t in failing if t is not worst]
        subject = worst.param + (f" (also {', '.join(others)})" if others else "")
        evidence: dict[str, object] = {
            "param": worst.param, "max_rel_error": worst.max_rel_error, "failed": worst.failed_entries,
            "probes_failed": worst.probes_with("fail"),
            "checked": worst.checked, "norm_ratio": worst.norm_ratio, "cosine": worst.cosine, "eps": worst.step,
            "rtol": worst.rtol, "noise_floor": worst.noise, "dtype": worst.working_dtype, "first_wrong": first,
            "inherited_by": ",".join(ctx.attribution.inherited_from(layer)),
        }
        if worst.worst is not None:
            evidence.update(worst_index=str(worst.worst.index), analytic=worst.worst.judgement.analytic,
                            numeric=worst.worst.judgement.numeric)
        yield GRADIENT_MISMATCH.finding(
            layer=layer,
            message=f"{subject}: analytic gradient disagrees with central differences at {counts(worst)} "
            f"({describe_tensor(worst)}). {_why(ctx, layer, first, never_moved)}",
            fix=("Make the loss compute from the parameters the kit moves (with gk.wrap: the params argument "
                 "of loss, grads and predict), then check again." if never_moved else
                 f"Fix {culprit}'s backward (see backward-mismatch); {layer} itself is right." if culprit else
                 f"Re-derive the gradient backward() returns for the input {worst.param!r}: differentiate the "
                 f"forward's output with respect to {worst.param} and compare term by term with the numeric values "
                 f"above." if ctx.view.kind == "function" else
                 f"Re-derive the backward step of layer {layer!r}: its weight and bias gradients and the activation "
                 f"derivative in the delta it passes on; compare term by term with the numeric values above."),
            evidence=evidence,
        )


def _non_finite_params(ctx: Context) -> list[tuple[str, int, tuple[int, ...], float]]:
    """Parameters holding NaN or inf: name, how many, the first index and its value."""
    found = []
    for name, array in ctx.view.params.items():
        bad = ~np.isfinite(array)
        if bad.any():
            first = tuple(int(k) for k in np.unravel_index(int(np.flatnonzero(bad)[0]), array.shape))
            found.append((name, int(bad.sum()), first, float(array[first])))
    return found


@register(NON_FINITE)
def check_values_finite(ctx: Context) -> Iterator[Finding]:
    """The baseline loss and the analytic gradient must be finite for any check to mean anything."""
    m = ctx.measurement
    if not math.isfinite(m.base_loss):
        holders = _non_finite_params(ctx)
        if holders:
            name, count, index, value = holders[0]
            more = f" (also {', '.join(h[0] for h in holders[1:])})" if len(holders) > 1 else ""
            where = (f" {name} holds {count} non-finite value{'' if count == 1 else 's'} (first at {index}: "
                     f"{value}){more}.")
            fix = (f"Replace the non-finite values in {name}{more} (left by a diverged run, or an initialisation "
                   f"that divided by zero); then look for log(0) or exp overflow in the loss.")
        else:
            where = ""
            fix = ("Look for log(0) or exp overflow in the loss: clip probabilities (np.clip(p, 1e-12, 1)) or use a "
                   "log-sum-exp softmax.")
        yield NON_FINITE.finding(
            layer=ctx.view.layers_of().get(holders[0][0]) if holders else None,
            message=f"the loss at the given parameters is {m.base_loss} on this batch of {ctx.batch.size}, so no "
            f"gradient can be checked.{where}",
            fix=fix,
            evidence={"loss": m.base_loss, "batch_size": ctx.batch.size,
                      "param": ",".join(h[0] for h in holders)},
        )
        return
    for t in m.tensors:
        if t.analytic_nonfinite:
            yield NON_FINITE.finding(
                layer=t.layer,
                message=f"{t.param}: the analytic gradient has {t.analytic_nonfinite} non-finite "
                f"entr{'y' if t.analytic_nonfinite == 1 else 'ies'} of {t.size} while the loss is finite "
                f"({fmt(m.base_loss)}).",
                fix="Look for a division by zero or overflow in this layer's backward step.",
                evidence={"param": t.param, "non_finite": t.analytic_nonfinite, "size": t.size},
            )


@register(INCONCLUSIVE, reads=(NONDETERMINISTIC,))
def check_gradients_decidable(ctx: Context) -> Iterator[Finding]:
    """A tensor with no decisive entry is neither passed nor failed: say so and why."""
    if ctx.found(NONDETERMINISTIC.code):
        return  # nondeterministic-forward explains every undecidable entry
    for t in ctx.measurement.tensors:
        if t.verdict != "inconclusive":
            continue
        yield INCONCLUSIVE.finding(
            layer=t.layer,
            message=f"{t.param}: none of {t.checked} checked entries could be judged "
            f"({'; '.join(t.reasons) or 'no reason'}; eps {fmt(t.step)}, {t.working_dtype}).",
            fix="Check more entries (exhaustive=True), or move the parameters off non-differentiable points "
            "(e.g. a small random perturbation of the weights).",
            evidence={"param": t.param, "checked": t.checked, "inconclusive": t.inconclusive},
        )


@register(NONDETERMINISTIC)
def check_forward_deterministic(ctx: Context) -> Iterator[Finding]:
    """The same parameters must give the same loss, or no finite difference means anything."""
    m = ctx.measurement
    if m.deterministic or not math.isfinite(m.base_loss):
        return
    undecided = sum(t.inconclusive for t in m.tensors)
    yield NONDETERMINISTIC.finding(
        layer=None,
        message=f"two evaluations of the loss at the same parameters differ by {fmt(m.repeat_spread)} (loss "
        f"{fmt(m.base_loss, 4)}): the forward pass is random. Finite differences see that noise, so {undecided} "
        f"checked entr{'y was' if undecided == 1 else 'ies were'} left inconclusive and only mismatches larger than "
        f"the noise are reported.",
        fix="Switch off randomness for the check: dropout or noise layers in eval mode, or seed the generator "
        "inside forward (np.random.default_rng(0)) so each call draws the same mask.",
        evidence={"spread": m.repeat_spread, "loss": m.base_loss, "inconclusive_entries": undecided},
    )
