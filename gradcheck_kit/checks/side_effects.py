"""Findings about side effects of the model's calls (see `gradcheck_kit.model.side_effects`)."""

from __future__ import annotations

from collections.abc import Iterator

from .codes import MUTATES_INPUT, MUTATES_PARAMS, STATEFUL_BACKWARD
from .context import Context
from .findings import Finding
from .findings import format_number as fmt
from .registry import register

__all__ = ["check_backward_recomputes", "check_input_untouched", "check_parameters_untouched"]


@register(MUTATES_INPUT)
def check_input_untouched(ctx: Context) -> Iterator[Finding]:
    b = ctx.measurement.side_effects
    if b.mutates_input:
        yield MUTATES_INPUT.finding(
            layer=None,
            message=f"a {b.mutated_input_call} call wrote into its input arrays (largest change "
                    f"{fmt(b.mutated_input_change)}). "
            f"Every later call on the same array then sees different data — e.g. X /= 255 applied again each epoch. "
            f"The kit passed fresh copies for the rest of the check.",
            fix="Never modify X or y in place inside the model: write X = X / 255 (a new array), not X /= 255.",
            evidence={"call": b.mutated_input_call, "max_change": b.mutated_input_change},
        )


@register(MUTATES_PARAMS)
def check_parameters_untouched(ctx: Context) -> Iterator[Finding]:
    b = ctx.measurement.side_effects
    if b.mutates_params:
        names = ", ".join(b.mutated_params)
        yield MUTATES_PARAMS.finding(
            layer=None,
            message=f"a {b.mutated_params_call} call changed {names} (largest change {fmt(b.mutated_params_change)}). "
            f"Evaluating the loss must not move the weights (a training step hidden in forward or loss); finite "
            f"differences and your own evaluation code would otherwise see a moving target. The kit put the weights "
            f"back after each call for the rest of the check.",
            fix="Move the update out of forward/loss into a separate training step.",
            evidence={"call": b.mutated_params_call, "params": names, "max_change": b.mutated_params_change},
        )


@register(STATEFUL_BACKWARD)
def check_backward_recomputes(ctx: Context) -> Iterator[Finding]:
    b = ctx.measurement.side_effects
    if b.stale_backward:
        yield STATEFUL_BACKWARD.finding(
            layer=None,
            message=f"backward(X, y) returned a different gradient for the same X and weights after a forward call on "
            f"another batch (relative change {fmt(b.stale_backward_change)}): it reuses activations cached by the last "
            f"forward instead of the X it is given. The kit computed the loss on X right before each backward, so the "
            f"gradient checks above are still valid.",
            fix="Recompute the forward pass for X inside backward(X, y) (or drop X from its signature and document "
                "that "
            "forward(X) must be called first).",
            evidence={"relative_change": b.stale_backward_change},
        )
