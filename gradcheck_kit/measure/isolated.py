"""Layer by layer: each layer's backward checked on its own, with a random upstream gradient.

For layer ``f`` with input ``x`` (from the baseline forward pass) and a random upstream gradient ``g``,
``backward(g)`` must return the gradients of ``φ = ⟨g, f(x)⟩`` with respect to ``x`` and to the layer's
parameters; the loss layer must return the gradient of the loss with respect to its input. Because each
layer is checked in isolation, a failure is that layer's own, parameter-free layers (activations,
softmax) included — nothing is inherited from the layers after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from ..model.batch import Batch
from ..model.layers import Layer, LayeredView
from ..numeric.comparison import TensorCheck, compare_tensor
from ..numeric.fitting import EXPLAINED, fit_scale
from ..settings import Settings

__all__ = ["explain_isolated", "measure_layers_in_isolation"]


def _rounding(g: np.ndarray, out: np.ndarray) -> float:
    """Rounding noise of ⟨g, out⟩: a few ulps of the sum of absolute products."""
    return 4 * float(np.finfo(np.float64).eps) * float(np.vdot(np.abs(g), np.abs(out)))


def kink_free_directions(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Moves of a layer's input that keep the kinks of common piecewise-linear layers where they are, so
    they judge a backward even where every random direction is inconclusive: scaling the input (ReLU,
    max-pool and linear maps are positively homogeneous: no kink is crossed) and shifting every entry by
    the same amount (max-pool windows keep their ties, so a backward that gives every tied maximum the
    gradient is caught; a ReLU input at exactly 0 is crossed, and judged inconclusive as usual)."""
    return [("the input's own direction (scaling it)", x.copy()), ("the shift of every input entry", np.ones_like(x))]


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

        if x is not None and dx is not None and dx.shape == x.shape:
            work = x.copy()
            into.append(compare_tensor(f"{layer.id}.x", layer.id, work, dx, partial(phi, work), base,
                                       source_dtype=acts[i].dtype, loss_noise=noise,
                                       directions=kink_free_directions(x), **options))
        # the layer's own regulariser (the loss's regularization_loss(layer)): a backward that adds its
        # gradient is right on its own, whatever the rest of the network does
        def with_penalty(at: np.ndarray, layer: Layer = layer, g: np.ndarray = g) -> float:
            return phi(at, layer, g) + view.loss_layer.penalty(layer)

        for local, slot in layer.slots.items():
            into.append(compare_tensor(slot.name, layer.id, view.params[slot.name], dparams[local],
                                       partial(with_penalty, x_in), base + view.loss_layer.penalty(layer),
                                       source_dtype=view.source_dtypes[slot.name], loss_noise=noise, **options))
    x = np.array(acts[-1], dtype=np.float64)
    base = view.loss_forward(x, y)
    dx = view.loss_backward()
    if dx.shape != x.shape:
        raise ModelInterfaceError(f"{view.loss_layer.id}: backward returned dx of shape {dx.shape}, but the loss's "
                                  f"input has shape {x.shape}; expected dx with the shape of its input")
    work = x.copy()
    into.append(compare_tensor(
        f"{view.loss_layer.id}.x", view.loss_layer.id, work, dx, lambda: view.loss_forward(work, y), base,
        source_dtype=acts[-1].dtype, **options))
    return into


def explain_isolated(view: LayeredView, batch: Batch, settings: Settings, isolated: list[TensorCheck],
                     whole: dict[str, TensorCheck]) -> None:
    """Mark isolated disagreements that are not errors:

    * a layer whose backward adds its own regulariser's gradient (``2·λ·W``): its parameter's isolated
      difference is exactly ``c·W`` and the parameter passes in the whole network;
    * a loss fused across its last two layers (a softmax layer whose backward is the identity, a loss
      layer returning ``o − t``): each disagrees on its own, the two checked together agree — whatever
      the rest of the network does, so a real bug elsewhere keeps the blame.
    """
    for i, t in enumerate(isolated):
        if t.verdict != "fail" or t.param.endswith(".x") or whole.get(t.param) is None:
            continue
        index, a, n = t.decisive_arrays()
        c, residual = fit_scale(a - n, view.params[t.param][index])
        if whole[t.param].verdict == "pass" and residual < EXPLAINED and np.isfinite(c) and c > 0 and a.size >= 3:
            isolated[i] = replace(t, explained=f"its backward adds its own regulariser's gradient {c:.3g}·W, which "
                                               f"the whole network's loss includes")
    _explain_fused_loss(view, batch, settings, isolated, whole)
    _explain_by_real_upstream(view, batch, settings, isolated)


def _upstream(view: LayeredView, batch: Batch, index: int) -> tuple[list[np.ndarray], np.ndarray] | None:
    """The layers' inputs and the gradient the network's own backward pass hands layer ``index`` (for the
    first example when the layers take one at a time)."""
    acts = view.activations(batch)
    y = batch.example(0)[1] if view.per_example else batch.y
    view.loss_forward(np.asarray(acts[-1], dtype=np.float64), y)
    g: np.ndarray | None = view.loss_backward()
    for j in range(len(view.layers) - 1, index, -1):
        if g is None:
            return None
        g = view.layer_backward(view.layers[j], g, acts[j])[0]
    if g is None:
        return None
    return view.activations(batch), np.asarray(g, dtype=np.float64)  # forward again: caches for layer index


def _explain_by_real_upstream(view: LayeredView, batch: Batch, settings: Settings, isolated: list[TensorCheck]) -> None:
    """A layer whose backward fails for a random upstream gradient but is right for the one the network
    gives it (a softmax backward written for cross-entropy's one non-zero entry): right here, and said."""
    for index, layer in enumerate(view.layers):
        failing = [i for i, t in enumerate(isolated) if t.layer == layer.id and t.verdict == "fail"]
        if not failing:
            continue
        found = _upstream(view, batch, index)
        if found is None:
            continue
        acts, g = found
        x = np.array(acts[index], dtype=np.float64)
        dx, dparams = view.layer_backward(layer, g, x)
        base = float(np.vdot(g, view.layer_forward(layer, x)))

        def phi(at: np.ndarray, layer: Layer = layer, g: np.ndarray = g) -> float:
            return float(np.vdot(g, view.layer_forward(layer, at)))

        options: dict[str, Any] = {"tolerance": settings.tolerance, "rng": np.random.default_rng(settings.seed + 6),
                                   "max_entries": settings.max_entries, "probes": settings.probes,
                                   "exhaustive": False, "eps": settings.eps}
        checks = []
        for i in failing:
            t = isolated[i]
            if t.param.endswith(".x"):
                if dx is None or dx.shape != x.shape:
                    break
                work = x.copy()
                checks.append(compare_tensor(t.param, layer.id, work, dx, partial(phi, work), base,
                                             source_dtype=np.dtype(np.float64), directions=kink_free_directions(x),
                                             **options))
            else:
                local = next(k for k, slot in layer.slots.items() if slot.name == t.param)
                checks.append(compare_tensor(t.param, layer.id, view.params[t.param], dparams[local],
                                             partial(phi, x), base + 0.0, source_dtype=view.source_dtypes[t.param],
                                             **options))
        if len(checks) == len(failing) and all(c.verdict == "pass" for c in checks):
            reason = ("its backward is right for the upstream gradient this network gives it, though not for an "
                      "arbitrary one (it assumes that gradient's form, e.g. the single non-zero entry of "
                      "cross-entropy's)")
            for i in failing:
                isolated[i] = replace(isolated[i], explained=reason)


def _explain_fused_loss(view: LayeredView, batch: Batch, settings: Settings, isolated: list[TensorCheck],
                        whole: dict[str, TensorCheck]) -> None:
    if not view.layers:
        return
    last = view.layers[-1]
    pair = [i for i, t in enumerate(isolated)
            if t.param in (f"{last.id}.x", f"{view.loss_layer.id}.x") and t.verdict == "fail"]
    if len(pair) != 2 or last.slots:
        return
    acts = view.activations(batch)
    y = batch.example(0)[1] if view.per_example else batch.y
    x = np.array(acts[-2], dtype=np.float64)
    base = view.loss_forward(view.layer_forward(last, x), y)
    dx = view.layer_backward(last, view.loss_backward(), x)[0]
    if dx is None:
        return
    work = x.copy()
    together = compare_tensor(f"{last.id}+loss.x", last.id, work, dx,
                              lambda: view.loss_forward(view.layer_forward(last, work), y), base,
                              source_dtype=np.dtype(np.float64), tolerance=settings.tolerance,
                              rng=np.random.default_rng(settings.seed + 5), max_entries=settings.max_entries,
                              probes=settings.probes, exhaustive=False, eps=settings.eps)
    if together.verdict == "pass":
        reason = (f"{last.id} and {view.loss_layer.id} are one loss split across two layers (each backward is "
                  f"only right together with the other, as when softmax's backward passes o − t through)")
        for i in pair:
            isolated[i] = replace(isolated[i], explained=reason)
