"""`measure`: the baseline loss, the analytic gradient, and every tensor compared with central differences."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .adapters.view import ModelView
from .adapters.layers import LayeredView
from .batch import Batch
from .behaviour import Behaviour, probe_behaviour
from .layerwise import check_layers_in_isolation
from .naming import layer_of
from .numeric.comparison import TensorCheck, compare_tensor
from .numeric.noise import estimate_noise
from .numeric.parallel import entry_runner
from .numeric.steps import step_size
from .probes import WholeModelMove
from .settings import Settings

__all__ = ["Measurement", "expected_evaluations", "measure"]


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
    loss_noise: float = 0.0
    repeat_spread: float = 0.0
    isolated: tuple[TensorCheck, ...] = ()
    behaviour: Behaviour = field(default_factory=Behaviour)

    @property
    def deterministic(self) -> bool:
        """False when two evaluations of the loss at the same parameters differed."""
        return self.repeat_spread == 0.0

    @property
    def by_param(self) -> dict[str, TensorCheck]:
        return {t.param: t for t in self.tensors}


def expected_evaluations(view: ModelView, settings: Settings) -> int:
    """Loss evaluations the comparison will make, before Richardson re-tests (for progress and ETA)."""
    total = 8  # repeated baseline and the noise estimate
    for array in view.params.values():
        entries = array.size if settings.exhaustive else min(array.size, settings.max_entries)
        total += 2 * (entries + (settings.probes if array.size > 1 else 0))
    return total


def measure(
    view: ModelView,
    batch: Batch,
    settings: Settings,
    layers: tuple[str, ...],
    on_eval: Callable[[int], None] | None = None,
) -> Measurement:
    """Run the gradient comparison for every parameter, walking back from the loss."""
    X, y = batch.X, batch.y
    behaviour = probe_behaviour(view, batch)
    view.copy_inputs = view.copy_inputs or behaviour.mutates_input
    view.protect_params = view.protect_params or behaviour.mutates_params
    base = view.loss(X, y)
    if not math.isfinite(base):
        return Measurement(base_loss=base, analytic={}, tensors=(), behaviour=behaviour)
    again = view.loss(X, y)
    spread = abs(again - base) if math.isfinite(again) else math.inf
    analytic = view.gradients(X, y)
    rng = np.random.default_rng(settings.seed)
    noise = _loss_noise(view, batch, base, np.random.default_rng(settings.seed + 3))
    noise = max(noise, spread) if math.isfinite(noise) else spread
    rank = {layer: i for i, layer in enumerate(layers)}
    order = sorted(view.names, key=lambda n: -rank.get(layer_of(n), 0))
    tensors: list[TensorCheck] = []
    complete = True
    runner = entry_runner(settings.n_jobs, on_eval) if settings.exhaustive else None
    focus = getattr(view, "focus", None)
    try:
        for name in order:
            if focus is not None:
                focus(name, X)
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
                    loss_noise=noise,
                    random=spread > 0,
                    entry_runner=runner,
                )
            )
        if focus is not None:
            focus(None)
        isolated = check_layers_in_isolation(view, batch, settings, on_eval) if isinstance(view, LayeredView) else ()
    except KeyboardInterrupt:
        complete = False
        isolated = ()
    return Measurement(base_loss=base, analytic=analytic, tensors=tuple(tensors), complete=complete,
                       loss_noise=noise, repeat_spread=spread, isolated=isolated, behaviour=behaviour)


def _loss_noise(view: ModelView, batch: Batch, base: float, rng: np.random.Generator) -> float:
    """The loss's noise σ along one random whole-model direction.

    The spacing is 1% of the float64 step, so kinks (ReLU) are rarely crossed and do not pass for noise.
    A loss computed in float32 inside the model is recognised by its values: every one of them is exactly
    representable in float32 (for a float64 computation that happens with probability ~2⁻²⁹), and its
    noise is then at least float32 rounding.
    """
    values = [base]
    with WholeModelMove(view) as move:
        direction = {n: rng.standard_normal(a.shape) / math.sqrt(move.total) for n, a in move.saved.items()}

        def at(t: float) -> float:
            move.to(direction, t)
            value = view.loss(batch.X, batch.y)
            values.append(value)
            return value

        sigma = estimate_noise(at, base, 0.01 * step_size(np.zeros(1)) * move.scale)
    for dtype in (np.float16, np.float32):
        if all(math.isfinite(v) and float(dtype(v)) == v for v in values):
            return max(sigma, float(np.finfo(dtype).eps) * max(abs(base), 1e-300) / 2)
    return sigma
