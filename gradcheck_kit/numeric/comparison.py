"""Per-tensor comparison of the analytic gradient with central differences.

For each parameter tensor: a few random unit directions over the whole tensor (each sees every entry at
the cost of two loss evaluations), then a bounded sample of single entries (always the largest-|gradient|
ones), or every entry with ``exhaustive=True``. A failing direction with no failing sampled entry is
localised by bisection over entries, so the worst entry is named even when only a few are wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .differences import Estimate, Judgement, Perturber, Status, judge
from .sampling import choose_entries
from .steps import step_size
from .tolerance import Tolerance

__all__ = ["EntryCheck", "ProbeCheck", "TensorCheck", "compare_tensor"]


@dataclass(frozen=True)
class EntryCheck:
    """One entry: analytic vs numeric."""

    index: tuple[int, ...]
    judgement: Judgement

    @property
    def status(self) -> Status:
        return self.judgement.status


@dataclass(frozen=True)
class ProbeCheck:
    """One random direction u: <analytic, u> vs the directional central difference."""

    judgement: Judgement


@dataclass(frozen=True)
class TensorCheck:
    """Everything measured for one parameter tensor.

    Attributes
    ----------
    param, layer
        Parameter name and the layer it belongs to.
    shape, dtype, working_dtype
        The tensor's shape, its dtype in the user's model, and the dtype the check ran in.
    step, rtol, noise
        Step size h, relative tolerance and the rounding floor at the baseline loss.
    entries, probes
        Per-entry and per-direction results.
    """

    param: str
    layer: str
    shape: tuple[int, ...]
    dtype: str
    working_dtype: str
    step: float
    rtol: float
    noise: float
    entries: tuple[EntryCheck, ...]
    probes: tuple[ProbeCheck, ...]
    exhaustive: bool = False
    localised: bool = False
    analytic_nonfinite: int = 0
    loss_noise: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def checked(self) -> int:
        return len(self.entries)

    def _count(self, status: Status) -> int:
        return sum(e.status == status for e in self.entries) + sum(p.judgement.status == status for p in self.probes)

    @property
    def failed(self) -> int:
        return self._count("fail")

    @property
    def inconclusive(self) -> int:
        return self._count("inconclusive")

    @property
    def verdict(self) -> Status:
        if self.failed or self.analytic_nonfinite:
            return "fail"
        if self._count("pass"):
            return "pass"
        return "inconclusive"

    @property
    def decisive(self) -> list[EntryCheck]:
        return [e for e in self.entries if e.status != "inconclusive"]

    @property
    def worst(self) -> EntryCheck | None:
        """The decisive entry with the largest relative error."""
        decisive = self.decisive
        if not decisive:
            return None
        return max(decisive, key=lambda e: (e.judgement.rel_error if math.isfinite(e.judgement.rel_error) else math.inf))

    @property
    def max_rel_error(self) -> float:
        """Largest relative error over decisive entries (over the random directions if no entry decided)."""
        values = [e.judgement.rel_error for e in self.decisive]
        if not values:
            values = [p.judgement.rel_error for p in self.probes if p.judgement.status != "inconclusive"]
        return max(values) if values else math.nan

    def _vectors(self) -> tuple[np.ndarray, np.ndarray]:
        decisive = self.decisive
        a = np.array([e.judgement.analytic for e in decisive])
        n = np.array([e.judgement.numeric for e in decisive])
        return a, n

    @property
    def norm_ratio(self) -> float:
        """||analytic|| / ||numeric|| over the checked entries (1 when they agree)."""
        a, n = self._vectors()
        nn = float(np.linalg.norm(n))
        return float(np.linalg.norm(a)) / nn if nn > 0 else math.nan

    @property
    def cosine(self) -> float:
        """Cosine similarity of analytic and numeric over the checked entries (1 when they agree)."""
        a, n = self._vectors()
        denom = float(np.linalg.norm(a) * np.linalg.norm(n))
        return float(a @ n) / denom if denom > 0 else math.nan

    @property
    def probe_ratio(self) -> float:
        """Median of <analytic, u> / directional difference over the random directions."""
        ratios = [p.judgement.analytic / p.judgement.numeric for p in self.probes
                  if p.judgement.status != "inconclusive" and p.judgement.numeric != 0]
        return float(np.median(ratios)) if ratios else math.nan


def _unit(signs: np.ndarray) -> np.ndarray:
    return signs / math.sqrt(float(np.count_nonzero(signs)))


def compare_tensor(
    param: str,
    layer: str,
    work: np.ndarray,
    analytic: np.ndarray,
    loss: Callable[[], float],
    base_loss: float,
    *,
    source_dtype: np.dtype,
    tolerance: Tolerance,
    rng: np.random.Generator,
    max_entries: int,
    probes: int,
    exhaustive: bool,
    eps: float | None = None,
    on_eval: Callable[[int], None] | None = None,
    loss_noise: float = 0.0,
    random: bool = False,
) -> TensorCheck:
    """Check one tensor; ``work`` is moved in place and restored bitwise.

    ``loss_noise`` is the loss's measured noise σ (`noise.estimate_noise`); ``random`` says the loss
    changed between two evaluations at the same point.
    """
    dtype = work.dtype
    precision = loss_noise / max(abs(base_loss), 1.0)
    step = step_size(work, eps=eps, precision=precision)
    rtol = tolerance.rtol_for(dtype, precision)
    perturber = Perturber(work, loss, on_eval)
    flat_analytic = analytic.reshape(-1)

    def estimate_entry(i: int, h: float) -> Estimate:
        plus, minus, taken = perturber.entry(i, h)
        return Estimate.from_losses(base_loss, plus, minus, taken)

    def check_entry(i: int) -> EntryCheck:
        est = estimate_entry(i, step)
        j = judge(float(flat_analytic[i]), est, tolerance=tolerance, rtol=rtol, dtype=dtype,
                  refine=lambda: estimate_entry(i, 2 * step), loss_noise=loss_noise, random=random)
        return EntryCheck(tuple(int(k) for k in np.unravel_index(i, work.shape)), j)

    def check_direction(unit: np.ndarray) -> Judgement:
        def estimate(h: float) -> Estimate:
            plus, minus, taken = perturber.direction(unit, h)
            return Estimate.from_losses(base_loss, plus, minus, taken)

        projected = float(np.vdot(np.nan_to_num(analytic, nan=0.0, posinf=0.0, neginf=0.0), unit))
        return judge(projected, estimate(step), tolerance=tolerance, rtol=rtol, dtype=dtype,
                     refine=lambda: estimate(2 * step), loss_noise=loss_noise, random=random)

    nonfinite = int(np.count_nonzero(~np.isfinite(analytic)))
    probe_results: list[ProbeCheck] = []
    failing_signs: list[np.ndarray] = []
    n_probes = probes if work.size > 1 else 0
    for _ in range(n_probes):
        signs = rng.choice(np.array([-1.0, 1.0]), size=work.shape)
        judgement = check_direction(_unit(signs))
        probe_results.append(ProbeCheck(judgement))
        if judgement.status == "fail":
            failing_signs.append(signs)

    indices = np.arange(work.size) if exhaustive else choose_entries(flat_analytic, max_entries, rng)
    entries = [check_entry(int(i)) for i in indices]

    localised = False
    if failing_signs and not any(e.status == "fail" for e in entries) and not exhaustive:
        found = _bisect(failing_signs[0], check_direction, work.shape)
        if found is not None:
            entries.append(check_entry(found))
            localised = True

    return TensorCheck(
        param=param,
        layer=layer,
        shape=tuple(work.shape),
        dtype=np.dtype(source_dtype).name,
        working_dtype=dtype.name,
        step=step,
        rtol=rtol,
        noise=max(tolerance.atol or 0.0, tolerance.noise(dtype, abs(base_loss), step, loss_noise)),
        loss_noise=loss_noise,
        entries=tuple(entries),
        probes=tuple(probe_results),
        exhaustive=exhaustive,
        localised=localised,
        analytic_nonfinite=nonfinite,
    )


def _bisect(
    signs: np.ndarray,
    check_direction: Callable[[np.ndarray], Judgement],
    shape: tuple[int, ...],
) -> int | None:
    """Halve the support of a failing direction until one entry remains; ``None`` if the failure
    spreads so that neither half fails on its own."""
    support = np.arange(signs.size)
    flat_signs = signs.reshape(-1)
    while support.size > 1:
        halves = (support[: support.size // 2], support[support.size // 2:])
        worst, worst_error = None, -1.0
        for half in halves:
            masked = np.zeros(signs.size)
            masked[half] = flat_signs[half]
            judgement = check_direction(_unit(masked).reshape(shape))
            if judgement.status == "fail" and judgement.rel_error > worst_error:
                worst, worst_error = half, judgement.rel_error
        if worst is None:
            return None
        support = worst
    return int(support[0])
