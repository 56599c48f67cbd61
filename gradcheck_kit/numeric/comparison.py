"""Per-tensor comparison of the analytic gradient with central differences.

For each parameter tensor: a few random unit directions over the whole tensor (each sees every entry at
the cost of two loss evaluations), then a bounded sample of single entries (always the largest-|gradient|
ones), or every entry with ``exhaustive=True``. A failing direction with no failing sampled entry is
localised by bisection over entries, so the worst entry is named even when only a few are wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from .blocks import Losses, LossLoop, plain_passes, take_losses
from .differences import Estimate, Judgement, Perturber, Status, judge
from .finite import all_finite
from .sampling import choose_entries, uniform_signs
from .steps import step_size
from .tolerance import Tolerance

__all__ = ["BlockCheck", "EntryCheck", "EntryRunner", "EntryTable", "ProbeCheck", "TensorCheck", "TensorComparison",
           "compare_tensor", "shifted"]


_STATUS = ("pass", "fail", "inconclusive")
_CODE = {name: i for i, name in enumerate(_STATUS)}


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
    """One direction u: <analytic, u> vs the directional central difference. ``along`` names a
    direction chosen for its structure (``"the shift of every entry"``); empty for a random one."""

    judgement: Judgement
    along: str = ""


@dataclass(frozen=True, eq=False)
class EntryTable:
    """Per-entry results as arrays (an exhaustive check of a large tensor keeps no object per entry).

    ``status`` codes index `_STATUS` (0 pass, 1 fail, 2 inconclusive); ``reasons`` maps a position in
    the table to the reason of a non-plain verdict.
    """

    flat: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    rel_error: np.ndarray
    bound: np.ndarray
    status: np.ndarray
    reasons: dict[int, str]

    @classmethod
    def allocate(cls, n: int) -> EntryTable:
        return cls(np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n),
                   np.zeros(n, dtype=np.int8), {})

    def put(self, position: int, flat_index: int, j: Judgement) -> None:
        self.flat[position] = flat_index
        self.analytic[position] = j.analytic
        self.numeric[position] = j.numeric
        self.rel_error[position] = j.rel_error
        self.bound[position] = j.bound
        self.status[position] = _CODE[j.status]
        if j.reason:
            self.reasons[position] = j.reason

    def head(self, n: int) -> EntryTable:
        """The first ``n`` positions (a view when ``n`` is the whole table)."""
        if n >= self.flat.size:
            return self
        return EntryTable(self.flat[:n], self.analytic[:n], self.numeric[:n], self.rel_error[:n], self.bound[:n],
                          self.status[:n], {k: v for k, v in self.reasons.items() if k < n})

    def insert(self, start: int, chunk: EntryTable) -> None:
        """Copy ``chunk`` into positions ``start ...``."""
        stop = start + chunk.flat.size
        for name in ("flat", "analytic", "numeric", "rel_error", "bound", "status"):
            getattr(self, name)[start:stop] = getattr(chunk, name)
        self.reasons.update({start + k: v for k, v in chunk.reasons.items()})

    @classmethod
    def concat(cls, tables: list[EntryTable]) -> EntryTable:
        reasons: dict[int, str] = {}
        offset = 0
        for table in tables:
            reasons.update({offset + k: v for k, v in table.reasons.items()})
            offset += table.flat.size
        def joined(name: str, dtype: type) -> np.ndarray:
            return np.concatenate([getattr(t, name) for t in tables]) if tables else np.zeros(0, dtype=dtype)

        return cls(joined("flat", np.int64), joined("analytic", float), joined("numeric", float),
                   joined("rel_error", float), joined("bound", float), joined("status", np.int8), reasons)

    def judgement(self, position: int) -> Judgement:
        return Judgement(_STATUS[int(self.status[position])], float(self.analytic[position]),  # type: ignore[arg-type]
                         float(self.numeric[position]), float(self.rel_error[position]),
                         float(self.bound[position]), self.reasons.get(position, ""))


@dataclass(frozen=True, eq=False)
class TensorCheck:
    """Everything measured for one parameter tensor.

    Attributes
    ----------
    param, layer
        Parameter name and the layer it belongs to.
    shape, dtype, working_dtype
        The tensor's shape, its dtype in the user's model, and the dtype the check ran in.
    step, rtol, noise
        Step size h, relative tolerance and the noise floor at the baseline loss.
    table, probes
        Per-entry results (arrays) and per-direction results.
    """

    param: str
    layer: str
    shape: tuple[int, ...]
    dtype: str
    working_dtype: str
    step: float
    rtol: float
    noise: float
    table: EntryTable
    probes: tuple[ProbeCheck, ...]
    exhaustive: bool = False
    localised: bool = False
    analytic_nonfinite: int = 0
    loss_noise: float = 0.0
    #: Entries the check set out to judge; fewer were judged when ``complete`` is False (interrupted).
    planned: int = 0
    complete: bool = True
    #: Why a disagreement is not an error (a layer's own regulariser, a loss fused across two layers).
    explained: str = ""

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def checked(self) -> int:
        return int(self.table.flat.size)

    def index_of(self, position: int) -> tuple[int, ...]:
        return tuple(int(k) for k in np.unravel_index(int(self.table.flat[position]), self.shape))

    @property
    def entries(self) -> tuple[EntryCheck, ...]:
        """Per-entry results as objects (convenient for small tables; the arrays are in ``table``)."""
        return tuple(EntryCheck(self.index_of(i), self.table.judgement(i)) for i in range(self.checked))

    def _count(self, status: Status) -> int:
        return int(np.count_nonzero(self.table.status == _CODE[status])) + sum(
            p.judgement.status == status for p in self.probes)

    @property
    def failed(self) -> int:
        return self._count("fail")

    @property
    def failed_entries(self) -> int:
        return int(np.count_nonzero(self.table.status == _CODE["fail"]))

    @property
    def inconclusive(self) -> int:
        return self._count("inconclusive")

    @property
    def inconclusive_entries(self) -> int:
        return int(np.count_nonzero(self.table.status == _CODE["inconclusive"]))

    def probes_with(self, status: Status) -> int:
        """Random directions whose judgement is ``status``."""
        return sum(p.judgement.status == status for p in self.probes)

    @property
    def verdict(self) -> Status:
        if self.explained:
            return "pass"
        if self.failed or self.analytic_nonfinite:
            return "fail"
        if self._count("pass"):
            return "pass"
        return "inconclusive"

    @property
    def decisive_mask(self) -> np.ndarray:
        return self.table.status != _CODE["inconclusive"]

    def decisive_arrays(self) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
        """(index arrays usable as ``array[idx]``, analytic, numeric) over decisive entries."""
        mask = self.decisive_mask
        flat = self.table.flat[mask]
        return np.unravel_index(flat, self.shape), self.table.analytic[mask], self.table.numeric[mask]

    @property
    def worst(self) -> EntryCheck | None:
        """The decisive entry with the largest relative error."""
        mask = self.decisive_mask
        if not mask.any():
            return None
        errors = np.where(np.isfinite(self.table.rel_error), self.table.rel_error, np.inf)
        position = int(np.flatnonzero(mask)[np.argmax(errors[mask])])
        return EntryCheck(self.index_of(position), self.table.judgement(position))

    @property
    def max_rel_error(self) -> float:
        """Largest relative error over decisive entries (over the random directions if no entry decided)."""
        mask = self.decisive_mask
        if mask.any():
            return float(np.max(self.table.rel_error[mask]))
        values = [p.judgement.rel_error for p in self.probes if p.judgement.status != "inconclusive"]
        return max(values) if values else math.nan

    def _vectors(self) -> tuple[np.ndarray, np.ndarray]:
        _, a, n = self.decisive_arrays()
        return a, n

    @property
    def reasons(self) -> list[str]:
        return sorted(set(self.table.reasons.values()))

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


def _unit(weights: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(weights))
    return weights / norm if norm > 0 else weights


#: ``check(indices, put)`` judges the flat ``indices`` in order, handing each run of judged entries to
#: ``put(offset, table)`` (``offset`` into ``indices``) as it is done — also the run judged before an
#: interruption.
BlockCheck = Callable[[np.ndarray, Callable[[int, "EntryTable"], None]], None]
#: ``runner(indices, check, put)`` has ``check`` judge every flat index of ``indices`` (in blocks, here or
#: elsewhere) and hands the results to ``put(position, table)`` in order.
EntryRunner = Callable[[np.ndarray, BlockCheck, Callable[[int, "EntryTable"], None]], None]
#: Entries whose losses are taken in one loop, and judged together, in a check without a runner.
BLOCK = 256


class TensorComparison:
    """The comparison of one tensor, kept on the object as it runs.

    `run` checks random directions, then sampled (or all) entries, then bisects a failing direction
    with no failing entry down to the wrong entry. `result` can be called at any time: after an
    interruption it returns what was judged so far, marked incomplete. ``work`` is moved in place and
    restored bitwise.

    ``loss_noise`` is the loss's measured noise σ (`noise.estimate_noise`); ``random`` says the loss
    changed between two evaluations at the same point.

    ``loss_loop`` opens a stretch of many evaluations of the same loss (`blocks.LossLoop`): an
    exhaustive check takes its entries' losses inside it; without it, ``loss`` is called as it is.

    ``saved`` is a copy of ``work``'s values the caller holds (bitwise; only read), taken when not given;
    ``scratch`` a flat float32 array of at least ``work.size`` entries the random directions are drawn into
    (each drawn when needed, when not given): buffers one run reuses for every tensor instead of allocating
    tensor-sized arrays for each.
    """

    def __init__(self, param: str, layer: str, work: np.ndarray, analytic: np.ndarray,
                 loss: Callable[[], float], base_loss: float, *, source_dtype: np.dtype, tolerance: Tolerance,
                 rng: np.random.Generator, max_entries: int, probes: int, exhaustive: bool,
                 eps: float | None = None, on_eval: Callable[[int], None] | None = None,
                 loss_noise: float = 0.0, random: bool = False,
                 directions: Sequence[tuple[str, np.ndarray]] = (), loss_loop: LossLoop | None = None,
                 saved: np.ndarray | None = None, scratch: np.ndarray | None = None) -> None:
        self.param, self.layer, self.work, self.base_loss = param, layer, work, base_loss
        self.source_dtype, self.tolerance, self.rng = np.dtype(source_dtype), tolerance, rng
        self.max_entries, self.n_probes, self.exhaustive = max_entries, probes if work.size > 1 else 0, exhaustive
        self.loss_noise, self.random = loss_noise, random
        self.structured = [(name, d) for name, d in directions if d.shape == work.shape and np.any(d)]
        self.flat_analytic = analytic.reshape(-1)
        # one sum when every entry is finite (two tensor-sized boolean temporaries to count them otherwise)
        self.nonfinite = 0 if all_finite((analytic,)) else int(np.count_nonzero(~np.isfinite(analytic)))
        # directions project the analytic gradient with non-finite entries as 0 (a copy only when there are any)
        self.projectable = np.nan_to_num(analytic, nan=0.0, posinf=0.0, neginf=0.0) if self.nonfinite else analytic
        precision = loss_noise / max(abs(base_loss), 1.0)
        self.step = step_size(work, eps=eps, precision=precision)
        self.rtol = tolerance.rtol_for(work.dtype, precision)
        self.perturber = Perturber(work, loss, on_eval, saved)
        fits = (scratch is not None and scratch.dtype == np.float32 and scratch.flags.c_contiguous
                and scratch.size >= work.size)
        self.scratch = scratch if fits else None
        self.loss_loop: LossLoop = loss_loop if loss_loop is not None else lambda: nullcontext(loss)
        self.probe_results: list[ProbeCheck] = []
        self.table = EntryTable.allocate(0)
        self.filled = 0
        self.localised = False
        self.finished = False
        self.planned = work.size if exhaustive else min(work.size, max_entries)

    # -- judging one entry or one direction ------------------------------------------------------
    def _estimate(self, plus: float, minus: float, taken: float) -> Estimate:
        return Estimate.from_losses(self.base_loss, plus, minus, taken)

    def _judge(self, analytic: float, estimate: Callable[[float], Estimate]) -> Judgement:
        return judge(analytic, estimate(self.step), tolerance=self.tolerance, rtol=self.rtol, dtype=self.work.dtype,
                     refine=lambda: estimate(2 * self.step), zoom=lambda k: estimate(self.step / k),
                     loss_noise=self.loss_noise, random=self.random)

    def check_entry(self, i: int) -> Judgement:
        return self._judge(float(self.flat_analytic[i]), lambda h: self._estimate(*self.perturber.entry(i, h)))

    def check_entries(self, indices: np.ndarray, put: Callable[[int, EntryTable], None]) -> None:
        """Judge the flat ``indices`` as `check_entry` does, handing the results to ``put(0, table)``.

        The losses of all of them are taken first, in one loop (`blocks.take_losses`), and judged together:
        the entries `judge` passes at once get its numbers from `blocks.plain_passes`; every other one is
        judged by `judge` itself, re-tests included. When the loop is interrupted, the entries whose
        losses were taken are handed over as far as they are judged without another evaluation, and the
        interruption goes on (interrupted in a re-test, the entries before it). A non-deterministic loss
        is judged entry by entry, so each entry's re-tests follow its own evaluations as they always have."""
        if self.random:
            self._one_by_one(indices, put)
            return
        losses = Losses()
        try:
            take_losses(self.work, self.perturber.saved, indices, self.step, self.loss_loop, losses,
                        self.perturber.on_eval)
        except BaseException:
            self._judge_taken(indices[:losses.complete], losses, put, retest=False)
            raise
        self._judge_taken(indices, losses, put, retest=True)

    def _judge_taken(self, indices: np.ndarray, losses: Losses, put: Callable[[int, EntryTable], None], *,
                     retest: bool) -> None:
        """Judge ``indices`` from their losses and hand over the entries judged. With ``retest``, entries
        not passed at once are judged by `judge` (which may evaluate the loss again); without, the entries
        up to the first such one are handed over."""
        n = indices.size
        plus, minus = np.array(losses.plus[:n], dtype=np.float64), np.array(losses.minus[:n], dtype=np.float64)
        taken = losses.taken[:n]
        analytic = self.flat_analytic[indices]
        plain = plain_passes(analytic, self.base_loss, plus, minus, taken, tolerance=self.tolerance, rtol=self.rtol,
                             dtype=self.work.dtype, loss_noise=self.loss_noise, random=self.random)
        table = EntryTable(indices.astype(np.int64), analytic.astype(np.float64), plain.numeric, plain.rel_error,
                           plain.bound, np.zeros(n, dtype=np.int8), {})
        others = np.flatnonzero(~plain.passed).tolist()
        final = n if retest or not others else others[0]  # the first entries, judged for good
        try:
            for k in others if retest else ():
                final = k
                i = int(indices[k])
                first = Estimate.from_losses(self.base_loss, float(plus[k]), float(minus[k]), float(taken[k]))

                def estimate(h: float, i: int = i, first: Estimate = first) -> Estimate:
                    return first if h == self.step else self._estimate(*self.perturber.entry(i, h))

                table.put(k, i, self._judge(float(self.flat_analytic[i]), estimate))
            if retest:
                final = n
        finally:
            if final:
                put(0, table.head(final))

    def _one_by_one(self, indices: np.ndarray, put: Callable[[int, EntryTable], None]) -> None:
        table = EntryTable.allocate(indices.size)
        judged = 0
        try:
            for position, i in enumerate(indices):
                table.put(position, int(i), self.check_entry(int(i)))
                judged = position + 1
        finally:
            if judged:
                put(0, table.head(judged))

    def check_direction(self, unit: np.ndarray) -> Judgement:
        # einsum accumulates a float32 direction against the float64 gradient without a float64 copy of it
        projected = float(np.einsum("i,i->", self.projectable.reshape(-1), unit.reshape(-1)))
        return self._judge(projected, lambda h: self._estimate(*self.perturber.direction(unit, h)))

    # -- the run ---------------------------------------------------------------------------------
    def run(self, entry_runner: EntryRunner | None = None) -> TensorCheck:
        failing = self._directions()
        self.scratch = None  # the caller's buffer: not sent to workers with the check
        self._entries(entry_runner)
        entry_failed = np.any(self.table.status[: self.filled] == _CODE["fail"])
        if failing is not None and not entry_failed and not self.exhaustive:
            self._localise(failing)
        self.finished = True
        return self.result()

    def _directions(self) -> np.ndarray | None:
        """Structured directions first (given by the caller: moves that cross no kink of common
        piecewise-linear layers, such as shifting every entry of a max-pool's input at once), then random
        ones, uniform in [-1, 1) per entry (not ±1: with a few entries ±1 can come out all-equal, orthogonal
        to e.g. a softmax bias; not Gaussian: drawing those costs about four times as long, which shows on
        large tensors); returns the first failing one."""
        failing = None
        for along, direction in self.structured:
            judgement = self.check_direction(_unit(direction))
            self.probe_results.append(ProbeCheck(judgement, along))
            if judgement.status == "fail" and failing is None:
                failing = direction
        for _ in range(self.n_probes):
            # float32: the move and the projection both use exactly these values; half a tensor of memory
            into = None if self.scratch is None else self.scratch[:self.work.size].reshape(self.work.shape)
            signs = uniform_signs(self.rng, self.work.shape, out=into)
            norm = float(np.linalg.norm(signs.reshape(-1)))
            if norm > 0:
                signs /= np.float32(norm)  # about unit norm, in place
            judgement = self.check_direction(signs)
            self.probe_results.append(ProbeCheck(judgement))
            if judgement.status == "fail" and failing is None:
                failing = signs if into is None else signs.copy()  # the next one is drawn into the scratch
            del signs  # before the next one is drawn (a failing one stays referenced)
        return failing

    def _entries(self, entry_runner: EntryRunner | None) -> None:
        indices = (
            np.arange(self.work.size)
            if self.exhaustive
            else choose_entries(self.flat_analytic, self.max_entries, self.rng)
        )
        self.table = EntryTable.allocate(indices.size)
        if self.exhaustive:
            (entry_runner or _in_blocks)(indices, self.check_entries, self._put_table)
            return
        for position, i in enumerate(indices):
            self.table.put(position, int(i), self.check_entry(int(i)))
            self.filled = position + 1

    def _put_table(self, start: int, chunk: EntryTable) -> None:
        self.table.insert(start, chunk)
        self.filled = start + chunk.flat.size

    def _localise(self, signs: np.ndarray) -> None:
        found = _bisect(signs, self.check_direction, self.work.shape)
        if found is not None:
            extra = EntryTable.allocate(1)
            extra.put(0, found, self.check_entry(found))
            self.table = EntryTable.concat([self.table.head(self.filled), extra])
            self.filled += 1
            self.localised = True

    def result(self) -> TensorCheck:
        """What was judged so far (everything, once `run` has returned)."""
        return TensorCheck(
            param=self.param,
            layer=self.layer,
            shape=tuple(self.work.shape),
            dtype=self.source_dtype.name,
            working_dtype=self.work.dtype.name,
            step=self.step,
            rtol=self.rtol,
            noise=max(
                self.tolerance.atol or 0.0,
                self.tolerance.noise(self.work.dtype, abs(self.base_loss), self.step, self.loss_noise),
            ),
            loss_noise=self.loss_noise,
            table=self.table.head(self.filled),
            probes=tuple(self.probe_results),
            exhaustive=self.exhaustive,
            localised=self.localised,
            analytic_nonfinite=self.nonfinite,
            planned=max(self.planned, self.filled),
            complete=self.finished,
        )

    @property
    def judged_anything(self) -> bool:
        return bool(self.filled or self.probe_results)


def compare_tensor(
    param: str,
    layer: str,
    work: np.ndarray,
    analytic: np.ndarray,
    loss: Callable[[], float],
    base_loss: float,
    *,
    entry_runner: EntryRunner | None = None,
    **options: Any,
) -> TensorCheck:
    """Check one tensor in one call (see `TensorComparison` for the options)."""
    return TensorComparison(param, layer, work, analytic, loss, base_loss, **options).run(entry_runner)


def shifted(put: Callable[[int, EntryTable], None], start: int) -> Callable[[int, EntryTable], None]:
    """``put`` for a block of entries that begins at ``start``: offsets in the block become positions."""
    def at(offset: int, table: EntryTable) -> None:
        put(start + offset, table)

    return at


def _in_blocks(indices: np.ndarray, check: BlockCheck, put: Callable[[int, EntryTable], None]) -> None:
    """The runner of a check without one: `BLOCK` entries at a time, in this process."""
    for start in range(0, indices.size, BLOCK):
        check(indices[start:start + BLOCK], shifted(put, start))


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
        halves = (support[: support.size // 2], support[support.size // 2 :])
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
