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

__all__ = ["DirectionalProbe", "OutputFunction", "fit_scale", "probe_directions"]

OutputFunction = Callable[[np.ndarray], float]


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
    saved = {n: view.params[n].copy() for n in names}
    total = sum(saved[n].size for n in names)
    rms = math.sqrt(sum(float(np.sum(saved[n] ** 2)) for n in names) / max(total, 1))
    step = (eps if eps is not None else float(np.cbrt(np.finfo(np.float64).eps))) * max(1.0, rms)
    probes: list[DirectionalProbe] = []

    def evaluate() -> tuple[float, dict[str, float]]:
        loss = view.loss(X, y)
        outputs = view.predict(X) if functions else None
        return loss, {k: f(outputs) for k, f in functions.items()} if outputs is not None else {}

    try:
        for _ in range(count):
            direction = {n: rng.choice(np.array([-1.0, 1.0]), size=saved[n].shape) / math.sqrt(total) for n in names}
            projected = sum(float(np.vdot(np.nan_to_num(analytic[n]), direction[n])) for n in names)
            values = []
            for sign in (1.0, -1.0):
                for n in names:
                    np.add(saved[n], sign * step * direction[n], out=view.params[n], casting="unsafe")
                values.append(evaluate())
            (lp, fp), (lm, fm) = values
            probes.append(
                DirectionalProbe(
                    analytic=projected,
                    loss=(lp - lm) / (2 * step),
                    outputs={k: (fp[k] - fm[k]) / (2 * step) for k in functions},
                )
            )
    finally:
        for n in names:
            np.copyto(view.params[n], saved[n])
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
