"""`measure`: the baseline loss, the analytic gradient, and every tensor compared with central differences."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .adapters.view import ModelView
from .batch import Batch
from .naming import layer_of
from .numeric.comparison import TensorCheck, compare_tensor
from .settings import Settings

__all__ = ["Measurement", "measure"]


@dataclass(frozen=True)
class Measurement:
    """What the numeric stage found.

    ``tensors`` is in check order (from the loss back to the input); ``complete`` is False when the run
    was interrupted, in which case ``tensors`` holds only what finished.
    """

    base_loss: float
    analytic: Mapping[str, np.ndarray]
    tensors: tuple[TensorCheck, ...]
    complete: bool = True

    @property
    def by_param(self) -> dict[str, TensorCheck]:
        return {t.param: t for t in self.tensors}


def measure(
    view: ModelView,
    batch: Batch,
    settings: Settings,
    layers: tuple[str, ...],
    on_eval: Callable[[int], None] | None = None,
) -> Measurement:
    """Run the gradient comparison for every parameter, walking back from the loss."""
    X, y = batch.X, batch.y
    base = view.loss(X, y)
    if not math.isfinite(base):
        return Measurement(base_loss=base, analytic={}, tensors=())
    analytic = view.gradients(X, y)
    rng = np.random.default_rng(settings.seed)
    rank = {layer: i for i, layer in enumerate(layers)}
    order = sorted(view.names, key=lambda n: -rank.get(layer_of(n), 0))
    tensors: list[TensorCheck] = []
    complete = True
    try:
        for name in order:
            tensors.append(
                compare_tensor(
                    name,
                    layer_of(name),
                    view.params[name],
                    analytic[name],
                    lambda: view.loss(X, y),
                    base,
                    source_dtype=view.source_dtypes[name],
                    tolerance=settings.tolerance,
                    rng=rng,
                    max_entries=settings.max_entries,
                    probes=settings.probes,
                    exhaustive=settings.exhaustive,
                    eps=settings.eps,
                    on_eval=on_eval,
                )
            )
    except KeyboardInterrupt:
        complete = False
    return Measurement(base_loss=base, analytic=analytic, tensors=tuple(tensors), complete=complete)
