"""Directional derivatives over *all* parameters at once, for testing hypotheses about a gradient.

Each direction moves every parameter along one random unit vector ``v`` (±h) and records the analytic
projection ``<g, v>`` next to central differences of the model's loss and of any functions of the model's
outputs at the same two points. Fitting the analytic projections against those derivatives tells which
loss the hand-written gradient actually differentiates — without seeing inside the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..model.batch import Batch
from ..model.view import ModelView
from ..numeric.moves import WholeMove

__all__ = ["DirectionalDerivative", "OutputFunction", "model_directions"]

OutputFunction = Callable[[np.ndarray], float]

#: One-sided slopes along a direction that differ by more than this (relative) mean a kink was crossed;
#: a smooth loss differs by about h·|curvature|, orders of magnitude less at the kit's steps.
KINK_SPREAD = 1e-3


@dataclass(frozen=True)
class DirectionalDerivative:
    """One direction: the analytic projection and central differences along it."""

    analytic: float
    loss: float
    outputs: Mapping[str, float]
    #: False when the one-sided differences of the loss disagree: the direction crosses a kink (ReLU,
    #: max) and its central differences say nothing about any hypothesis.
    smooth: bool = True


def model_directions(
    view: ModelView,
    batch: Batch,
    analytic: Mapping[str, np.ndarray],
    functions: Mapping[str, OutputFunction],
    *,
    count: int,
    rng: np.random.Generator,
    eps: float | None = None,
) -> list[DirectionalDerivative]:
    """``count`` random unit directions over all parameters; the working arrays are restored bitwise."""
    names = view.names
    found: list[DirectionalDerivative] = []

    def evaluate() -> tuple[float, dict[str, float]]:
        loss = view.loss(batch)
        outputs = view.predict(batch) if functions else None
        return loss, {k: f(outputs) for k, f in functions.items()} if outputs is not None else {}

    base = view.loss(batch)
    with WholeMove(view.params) as move:
        step = (eps if eps is not None else float(np.cbrt(np.finfo(np.float64).eps))) * move.scale
        for _ in range(count):
            direction = {n: rng.choice(np.array([-1.0, 1.0]), size=move.saved[n].shape) / math.sqrt(move.total)
                         for n in names}
            projected = sum(float(np.vdot(np.nan_to_num(analytic[n]), direction[n])) for n in names)
            values = []
            for sign in (1.0, -1.0):
                move.to(direction, sign * step)
                values.append(evaluate())
            (lp, fp), (lm, fm) = values
            forward, backward = (lp - base) / step, (base - lm) / step
            found.append(
                DirectionalDerivative(
                    analytic=projected,
                    loss=(lp - lm) / (2 * step),
                    outputs={k: (fp[k] - fm[k]) / (2 * step) for k in functions},
                    smooth=abs(forward - backward) <= KINK_SPREAD * max(abs(forward), abs(backward), 1e-300),
                )
            )
    return found
