"""Layer by layer: each layer's backward checked on its own, with a random upstream gradient.

For layer ``f`` with input ``x`` (from the baseline forward pass) and a random upstream gradient ``g``,
``backward(g)`` must return the gradients of ``φ = ⟨g, f(x)⟩`` with respect to ``x`` and to the layer's
parameters; the loss layer must return the gradient of the loss with respect to its input. Because each
layer is checked in isolation, a failure is that layer's own, parameter-free layers (activations,
softmax) included — nothing is inherited from the layers after it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..model.batch import Batch
from ..model.layers import Layer, LayeredView
from ..numeric.comparison import TensorCheck, compare_tensor
from ..settings import Settings

__all__ = ["measure_layers_in_isolation"]


def _rounding(g: np.ndarray, out: np.ndarray) -> float:
    """Rounding noise of ⟨g, out⟩: a few ulps of the sum of absolute products."""
    return 4 * float(np.finfo(np.float64).eps) * float(np.vdot(np.abs(g), np.abs(out)))


def measure_layers_in_isolation(view: LayeredView, batch: Batch, settings: Settings, into: list[TensorCheck],
                                on_eval: Callable[[int], None] | None = None) -> list[TensorCheck]:
    """Append isolated checks for every layer to ``into``, the loss layer last; the working parameters
    are left as found."""
    rng = np.random.default_rng(settings.seed + 4)
    acts = view.activations(batch)
    y = batch.example(0)[1] if view.per_example else batch.y
    options: dict[str, Any] = {"tolerance": settings.tolerance, "rng": rng, "max_entries": settings.max_entries,
                               "probes": settings.probes, "exhaustive": settings.exhaustive, "eps": settings.eps,
                               "on_eval": on_eval}
    for i, layer in enumerate(view.layers):
        x = np.array(acts[i], dtype=np.float64) if acts[i].dtype.kind == "f" else None
        x_in = x if x is not None else acts[i]
        out = view.layer_forward(layer, x_in)
        g = rng.standard_normal(np.shape(out))
        base = float(np.vdot(g, out))
        dx, dparams = view.layer_backward(layer, g, x_in)
        noise = _rounding(g, np.asarray(out, dtype=np.float64))
        def phi(at: np.ndarray, layer: Layer = layer, g: np.ndarray = g) -> float:
            return float(np.vdot(g, view.layer_forward(layer, at)))

        if x is not None and dx.shape == x.shape:
            work = x.copy()
            into.append(compare_tensor(f"{layer.id}.x", layer.id, work, dx, partial(phi, work), base,
                                       source_dtype=acts[i].dtype, loss_noise=noise, **options))
        for local, slot in layer.slots.items():
            into.append(compare_tensor(slot.name, layer.id, view.params[slot.name], dparams[local], partial(phi, x_in),
                                       base, source_dtype=view.source_dtypes[slot.name], loss_noise=noise, **options))
    x = np.array(acts[-1], dtype=np.float64)
    base = view.loss_forward(x, y)
    dx = view.loss_backward()
    if dx.shape == x.shape:
        work = x.copy()
        into.append(compare_tensor(
            f"{view.loss_layer.id}.x", view.loss_layer.id, work, dx, lambda: view.loss_forward(work, y), base,
            source_dtype=acts[-1].dtype, **options))
    return into
