"""Directional probes over *all* parameters at once, for testing hypotheses about a gradient.

A probe moves every parameter along one random unit direction ``v`` (±h), and records the analytic
projection ``<g, v>`` next to central differences of the model's loss and of any functions of the model's
outputs at the same two points. Fitting the analytic projections against those derivatives tells which
loss the hand-written gradient actually differentiates — without seeing inside the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .adapters.view import ModelView
from .batch import Batch

__all__ = ["DirectionalProbe", "OutputFunction", "WholeModelMove", "fit_scale", "probe_directions"]

OutputFunction = Callable[[np.ndarray], float]


class WholeModelMove:
    """Moves every working parameter at once, ``θ + t·d``; puts them back bitwise on exit.

    ``total`` is the number of entries and ``scale`` is ``max(1, RMS of all parameters)``, the factor a
    finite-difference step over the whole model is scaled by.
    """

    def __init__(self, view: ModelView) -> None:
        self.view = view
        self.saved = {n: view.params[n].copy() for n in view.names}
        self.total = sum(a.size for a in self.saved.values())
        self.scale = max(1.0, math.sqrt(sum(float(np.sum(a**2)) for a in self.saved.values()) / max(self.total, 1)))

    def to(self, direction: Mapping[str, np.ndarray], t: float) -> None:
        for name, saved in self.saved.items():
            np.add(saved, t * direction[name], out=self.view.params[name], casting="unsafe")

    def __enter__(self) -> WholeModelMove:
        return self

    def __exit__(self, *exc: object) -> None:
        for name, saved in self.saved.items():
            np.copyto(self.view.params[name], saved)


@dataclass(frozen=True)
class DirectionalProbe:
    """One direction: the analytic projection and central differences along it."""

    analytic: float
    loss: float
    outputs: Mapping[str, float]


def probe_directions(
    view: ModelView,
    batch: Batch,
    analytic: Mapping[str, np.ndarray],
    functions: Mapping[str, OutputFunction],
    *,
    count: int,
    rng: np.random.Generator,
    eps: float | None = None,
) -> list[DirectionalProbe]:
    """``count`` random unit directions over all parameters; the working arrays are restored bitwise."""
    X, y = batch.X, batch.y
    names = view.names
    probes: list[DirectionalProbe] = []

    def evaluate() -> tuple[float, dict[str, float]]:
        loss = view.loss(X, y)
        outputs = view.predict(X) if functions else None
        return loss, {k: f(outputs) for k, f in functions.items()} if outputs is not None else {}

    with WholeModelMove(view) as move:
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
            probes.append(
                DirectionalProbe(
                    analytic=projected,
                    loss=(lp - lm) / (2 * step),
                    outputs={k: (fp[k] - fm[k]) / (2 * step) for k in functions},
                )
            )
    return probes


def fit_scale(observed: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Least-squares ``c`` with ``observed ≈ c · predicted``, and the relative residual
    ``‖observed − c·predicted‖ / ‖observed‖`` (0 = explained exactly)."""
    observed = np.asarray(observed, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    denom = float(predicted @ predicted)
    norm = float(np.linalg.norm(observed))
    if denom == 0 or norm == 0 or not (np.all(np.isfinite(observed)) and np.all(np.isfinite(predicted))):
        return math.nan, math.inf
    scale = float(observed @ predicted) / denom
    return scale, float(np.linalg.norm(observed - scale * predicted)) / norm
