"""`measure`: the baseline loss, the analytic gradient, and every tensor compared with central differences.

The `Measurement` is filled as the stage runs, so when the run is interrupted it still holds every
tensor already judged, and the entries already judged of the tensor in progress.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..model.batch import Batch
from ..model.copies import same_bytes
from ..model.loss_loop import loss_loop
from ..model.side_effects import SideEffects, inspect_side_effects
from ..model.view import ModelView
from ..numeric.comparison import TensorCheck, TensorComparison
from ..numeric.moves import WholeMove
from ..numeric.noise import estimate_noise
from ..numeric.parallel import entry_runner
from ..numeric.sampling import uniform_signs
from ..numeric.steps import step_size
from ..settings import Settings
from .isolated import explain_isolated, measure_layers_in_isolation

__all__ = ["Measurement", "expected_evaluations", "measure"]


@dataclass
class Measurement:
    """What the measure stage found, from the loss back to the input.

    ``complete`` is False until the stage has finished; ``step`` names what it was doing when it stopped.
    ``analytic`` is the model's gradient at the baseline, by parameter, until `release_analytic`.
    """

    base_loss: float = math.nan
    analytic: Mapping[str, np.ndarray] = field(default_factory=dict)
    done: list[TensorCheck] = field(default_factory=list)
    current: TensorComparison | None = None
    loss_noise: float = 0.0
    repeat_spread: float = 0.0
    isolated: list[TensorCheck] = field(default_factory=list)
    side_effects: SideEffects = field(default_factory=SideEffects)
    step: str = "not started"
    complete: bool = False

    @property
    def tensors(self) -> tuple[TensorCheck, ...]:
        """Judged tensors in check order; the one in progress (if it judged anything) last, marked incomplete."""
        if self.current is not None and self.current.judged_anything:
            return (*self.done, self.current.result())
        return tuple(self.done)

    def release_analytic(self) -> None:
        """Free the analytic gradient (the parameters' size) once nothing will read it again: reading it
        afterwards is an error of the kit, not a silent empty mapping."""
        self.analytic = _Released()

    @property
    def deterministic(self) -> bool:
        """False when two evaluations of the loss at the same parameters differed."""
        return self.repeat_spread == 0.0

    @property
    def by_param(self) -> dict[str, TensorCheck]:
        return {t.param: t for t in self.tensors}


class _Released(Mapping[str, np.ndarray]):
    """The analytic gradient after `Measurement.release_analytic`."""

    def _fail(self) -> RuntimeError:
        return RuntimeError("internal error of gradcheck_kit: the analytic gradient was read after it was released; "
                            "the check that reads it must be registered with analytic=True")

    def __getitem__(self, name: str) -> np.ndarray:
        raise self._fail()

    def __iter__(self) -> Iterator[str]:
        raise self._fail()

    def __len__(self) -> int:
        raise self._fail()


def expected_evaluations(view: ModelView, settings: Settings) -> int:
    """Loss evaluations the comparison will make, before Richardson re-tests (for progress and ETA)."""
    total = 8  # repeated baseline and the noise estimate
    for array in view.params.values():
        entries = array.size if settings.exhaustive else min(array.size, settings.max_entries)
        total += 2 * (entries + (settings.probes if array.size > 1 else 0))
    return total


def measure(view: ModelView, batch: Batch, settings: Settings, layers: tuple[str, ...], into: Measurement,
            on_eval: Callable[[int], None] | None = None) -> Measurement:
    """Fill ``into``: side effects, the baseline, the analytic gradient, the loss's noise, then every
    tensor walking back from the loss (and, for layered models, each layer on its own)."""
    m = into
    m.step = "inspecting the model's calls for side effects"
    buffers = _Buffers(view.params, view.start_values)
    view.start_values = {}  # read once, here: not sent along with the view to the workers of an exhaustive check
    m.side_effects = inspect_side_effects(view, batch, buffers.baseline)
    view.copy_inputs = view.copy_inputs or m.side_effects.mutates_input
    view.protect_params = view.protect_params or m.side_effects.mutates_params
    view.rebind_params = view.rebind_params or bool(m.side_effects.rebinds_call)
    m.step = "computing the baseline loss"
    m.base_loss = view.loss(batch)
    if not math.isfinite(m.base_loss):
        m.complete = True
        return m
    again = view.loss(batch)
    m.repeat_spread = abs(again - m.base_loss) if math.isfinite(again) else math.inf
    if m.repeat_spread > 0 and view.pin_global_random():
        m.base_loss = view.loss(batch)  # the same draws on every call from now on (see `pin_global_random`)
        again = view.loss(batch)
        m.repeat_spread = abs(again - m.base_loss) if math.isfinite(again) else math.inf
    m.step = "computing the analytic gradient"
    m.analytic = view.gradients(batch)
    m.step = "measuring the loss's noise"
    noise = _loss_noise(view, batch, m.base_loss, np.random.default_rng(settings.seed + 3), buffers)
    if _caught_rebinding(view):  # some moves went into arrays the model no longer read: measured again
        noise = _loss_noise(view, batch, m.base_loss, np.random.default_rng(settings.seed + 3), buffers)
    m.loss_noise = max(noise, m.repeat_spread) if math.isfinite(noise) else m.repeat_spread
    m.step = "comparing gradients"
    _compare_tensors(view, batch, settings, layers, m, on_eval, buffers)
    del buffers
    if view.capabilities.layered:
        m.step = "checking each layer on its own"
        measure_layers_in_isolation(view, batch, settings, m.isolated, on_eval)  # type: ignore[arg-type]
        explain_isolated(view, batch, settings, m.isolated, m.by_param)  # type: ignore[arg-type]
        for reason in dict.fromkeys(t.explained for t in m.isolated if t.explained):
            view.notes.add(f"checked on its own a layer disagrees, but not in the network: {reason}")
    m.step = "done"
    m.complete = True
    return m


class _Buffers:
    """What the noise estimate and every tensor's comparison share instead of allocating their own: one copy
    of the parameters' baseline values (each moved tensor is put back from it, bitwise; the view's start
    values where the parameters still hold them, so no copy at all) and one float32
    buffer as long as all parameters together that the random directions are drawn into. Fresh
    parameter-sized arrays cost more than their copying (the system hands out and zeroes new memory), and
    a run needs these at every step from the noise estimate to the last tensor."""

    def __init__(self, params: Mapping[str, np.ndarray], start: Mapping[str, np.ndarray] | None = None) -> None:
        self.baseline = {n: _baseline(a, (start or {}).get(n)) for n, a in params.items()}
        self._size = sum(a.size for a in params.values())
        self._scratch: np.ndarray | None = None

    @property
    def scratch(self) -> np.ndarray:
        """Allocated when first used (the noise estimate), not while the side effects are inspected."""
        if self._scratch is None:
            self._scratch = np.empty(self._size, dtype=np.float32)
        return self._scratch

    def parts(self) -> dict[str, np.ndarray]:
        """The scratch cut into one C-contiguous float32 array per parameter, in its shape."""
        out, start = {}, 0
        for name, saved in self.baseline.items():
            out[name] = self.scratch[start:start + saved.size].reshape(saved.shape)
            start += saved.size
        return out

    def take_baseline(self, name: str, work: np.ndarray) -> np.ndarray | None:
        """``name``'s baseline copy if ``work`` still holds exactly those values (else None: take a new
        copy), released from these buffers: only the comparison of ``name`` reads it from now on."""
        saved = self.baseline.pop(name, None)
        return saved if saved is not None and same_bytes(saved, work) else None


def _baseline(work: np.ndarray, start: np.ndarray | None) -> np.ndarray:
    """The start value (read-only) when ``work`` still holds exactly it, else a copy of ``work``."""
    if start is not None and start.dtype == work.dtype and same_bytes(start, work):
        return start
    return work.copy()


def _compare_tensors(view: ModelView, batch: Batch, settings: Settings, layers: tuple[str, ...], m: Measurement,
                     on_eval: Callable[[int], None] | None, buffers: _Buffers | None = None) -> None:
    rank = {layer: i for i, layer in enumerate(layers)}
    layer_of = view.layers_of()
    order = sorted(view.names, key=lambda n: -rank.get(layer_of[n], 0))
    rng = np.random.default_rng(settings.seed)
    runner = entry_runner(settings.n_jobs, on_eval) if settings.exhaustive and settings.n_jobs != 1 else None
    for name in order:
        view.focus(name, batch)
        work = view.params[name]
        saved = buffers.take_baseline(name, work) if buffers is not None else None
        while True:
            m.current = TensorComparison(
                name, layer_of[name], work, m.analytic[name], lambda: view.loss(batch), m.base_loss,
                source_dtype=view.source_dtypes[name], tolerance=settings.tolerance, rng=rng,
                max_entries=settings.max_entries, probes=settings.probes, exhaustive=settings.exhaustive,
                eps=settings.eps, on_eval=on_eval, loss_noise=m.loss_noise, random=m.repeat_spread > 0,
                loss_loop=partial(loss_loop, view, batch), saved=saved,
                scratch=buffers.scratch if buffers is not None else None)
            checked = m.current.run(runner)
            if not _caught_rebinding(view):
                break  # else: compared again, the working arrays now bound again after every call
        m.done.append(checked)
        m.current = None
    view.focus(None)


def _caught_rebinding(view: ModelView) -> bool:
    """Whether a call since the side-effect probe re-bound a weight to a new array (a model that does it only
    on some calls: every seventh, or after a warm-up): the kit's later moves went into arrays the model no
    longer read. From then on the working arrays are bound again after every call; the caller measures
    again what the stale binding made wrong. Looked at between phases, not per call (the loss loop's
    speed)."""
    if view.rebind_params or view.slots_hold_params():
        return False
    view.rebind_params = True
    view.rebind()
    return True


def _loss_noise(view: ModelView, batch: Batch, base: float, rng: np.random.Generator,
                buffers: _Buffers | None = None) -> float:
    """The loss's noise σ along one random whole-model direction.

    The spacing is 1% of the float64 step, so kinks (ReLU) are rarely crossed and do not pass for noise.
    A loss computed in float32 inside the model is recognised by its values: every one of them is exactly
    representable in float32 (for a float64 computation that happens with probability ~2⁻²⁹), and its
    noise is then at least float32 rounding.
    """
    values = [base]
    parts = buffers.parts() if buffers is not None else {}
    with WholeMove(view.params, buffers.baseline if buffers is not None else None) as move:
        # scaled in place to a norm of about 1 (E[u²] = 1/3 on [-1, 1))
        direction = {n: uniform_signs(rng, a.shape, out=parts.get(n)) for n, a in move.saved.items()}
        for part in direction.values():
            np.multiply(part, np.float32(math.sqrt(3 / move.total)), out=part)

        def at(t: float) -> float:
            move.to(direction, t)
            value = view.loss(batch)
            values.append(value)
            return value

        sigma = estimate_noise(at, base, 0.01 * step_size(np.zeros(1)) * move.scale)
        if len(set(values)) == 1:  # not a single change: precision, or a loss that does not move at all?
            far = [at(t * 1e-2 * move.scale) for t in (-1.0, 1.0)]
            if far[0] == far[1] == base:
                return 0.0  # it does not depend on the parameters here: no rounding to allow for
            values = [base, *far]
    for dtype in (np.float16, np.float32):
        if len(set(values)) > 1 and all(math.isfinite(v) and float(dtype(v)) == v for v in values):
            return max(sigma, float(np.finfo(dtype).eps) * max(abs(base), 1e-300) / 2)
    return sigma
