"""Warnings about the model's state and data that make training fail even with correct gradients."""

from __future__ import annotations

import math
from collections.abc import Iterator

from .codes import DEAD, INITIAL_LOSS, SATURATED, UNNORMALIZED
from .context import Context
from .findings import Finding
from .findings import format_number as fmt
from .registry import register

__all__ = [
    "check_hidden_units_alive",
    "check_hidden_units_unsaturated",
    "check_initial_loss",
    "check_inputs_normalised",
]

#: Share of a layer's units dead on the whole batch before it is worth a warning.
DEAD_SHARE = 0.5
#: Share of a layer's activations in the flat tails before it is worth a warning.
SATURATED_SHARE = 0.5


@register(DEAD, requires=("predict",))
def check_hidden_units_alive(ctx: Context) -> Iterator[Finding]:
    """ReLU layers where most units are zero on every example: they get no gradient and never recover."""
    if ctx.batch.size < 8:
        return
    for a in ctx.activations:
        units = a.values.shape[1]
        if a.kind == "relu" and a.dead_units >= DEAD_SHARE * units:
            yield DEAD.finding(
                layer=None,
                message=f"{a.name}: {a.dead_units} of {units} ReLU units output 0 for all {ctx.batch.size} examples; "
                "they "
                f"pass no gradient back, so their weights never change again.",
                fix="Use a smaller learning rate, He initialisation (std sqrt(2 / fan_in)), a small positive bias "
                "init, or a leaky ReLU.",
                evidence={"activation": a.name, "dead": a.dead_units, "units": units, "batch_size": ctx.batch.size},
            )


@register(SATURATED, requires=("predict",))
def check_hidden_units_unsaturated(ctx: Context) -> Iterator[Finding]:
    """Sigmoid/tanh layers whose activations sit mostly where the derivative is ~0."""
    for a in ctx.activations:
        share = a.saturated_fraction
        if a.kind in ("sigmoid", "tanh") and share >= SATURATED_SHARE:
            tail = "below 0.01 or above 0.99" if a.kind == "sigmoid" else "beyond ±0.99"
            yield SATURATED.finding(
                layer=None,
                message=f"{a.name}: {fmt(100 * share, 3)}% of the {a.kind} activations are {tail}, where the "
                "derivative "
                f"is under 1% of its peak; gradients through this layer all but vanish.",
                fix="Normalise the inputs and scale the initial weights by 1/sqrt(fan_in) (Xavier), so pre-activations "
                "start near 0.",
                evidence={"activation": a.name, "kind": a.kind, "saturated_share": share, "dead_units": a.dead_units},
            )


@register(UNNORMALIZED)
def check_inputs_normalised(ctx: Context) -> Iterator[Finding]:
    """Inputs on a scale of tens or hundreds make the first layer's curvature, and its stable lr, extreme."""
    scale = ctx.inputs
    if scale.unnormalised:
        yield UNNORMALIZED.finding(
            layer=None,
            message=f"{scale.description}. The first layer's gradient scales with the inputs and its curvature with "
            "their square, so "
            f"a learning rate that suits the other layers overshoots there.",
            fix=f"Scale inputs to about unit range: {scale.divide_by}.",
            evidence={"min": scale.low, "max": scale.high, "std": scale.std},
        )


@register(INITIAL_LOSS, requires=("predict",))
def check_initial_loss(ctx: Context) -> Iterator[Finding]:
    """A loss far above log K means confident wrong predictions: an untrained net's init is too large."""
    out = ctx.outputs
    if out is None or ctx.batch.size < 8 or out.raw.shape[1] < 2:
        return  # one or two examples can be confidently wrong by chance; one output is no softmax
    ce = out.mean_cross_entropy(out.raw)
    chance = math.log(out.n_classes)
    if math.isfinite(ce) and ce > 3 * chance and ce > chance + 2:
        yield INITIAL_LOSS.finding(
            layer=None,
            message=f"the mean cross-entropy is {fmt(ce, 4)}, against log K = {fmt(chance, 4)} for an untrained "
            "classifier "
            f"that predicts all {out.n_classes} classes equally: the network is confidently wrong. If it is freshly "
            f"initialised, the initial weights are too large.",
            fix="Initialise weights with std 1/sqrt(fan_in) and the output layer small (or zero), so the first loss "
            "is near log K.",
            evidence={"cross_entropy": ce, "log_k": chance, "classes": out.n_classes},
        )
