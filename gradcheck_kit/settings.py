"""`Settings`: every option of a diagnosis, validated once."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from .checks.registry import resolve_codes
from .errors import InputError
from .numeric.tolerance import Tolerance

__all__ = ["Settings"]


def _positive(name: str, value: float | None, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(f"{name}={value!r}; expected a positive finite number")
    return float(value)


def _count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name}={value!r}; expected an integer >= {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    """Options of `diagnose` (see its docstring)."""

    lr: float | None = None
    exhaustive: bool = False
    max_entries: int = 12
    probes: int = 2
    tolerance: Tolerance = field(default_factory=Tolerance)
    eps: float | None = None
    seed: int = 0
    select: frozenset[str] | None = None
    skip: frozenset[str] | None = None
    n_jobs: int = 1

    @classmethod
    def build(
        cls,
        *,
        lr: float | None = None,
        exhaustive: bool = False,
        max_entries: int = 12,
        probes: int = 2,
        rtol: float | None = None,
        atol: float | None = None,
        eps: float | None = None,
        seed: int = 0,
        select: Iterable[str] | str | None = None,
        skip: Iterable[str] | str | None = None,
        n_jobs: int = 1,
    ) -> Settings:
        """Validate user options; raise `InputError` naming the bad one."""
        if atol is not None and (isinstance(atol, bool) or not isinstance(atol, (int, float)) or not atol >= 0):
            raise InputError(f"atol={atol!r}; expected a number >= 0")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise InputError(f"seed={seed!r}; expected a non-negative integer")
        return cls(
            lr=_positive("lr", lr),
            exhaustive=bool(exhaustive),
            max_entries=_count("max_entries", max_entries, 1),
            probes=_count("probes", probes, 0),
            tolerance=Tolerance(rtol=_positive("rtol", rtol), atol=None if atol is None else float(atol)),
            eps=_positive("eps", eps),
            seed=seed,
            select=resolve_codes("select", select),
            skip=resolve_codes("skip", skip),
            n_jobs=_count("n_jobs", n_jobs, 1),
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-safe settings, as echoed in every report."""
        return {
            "lr": self.lr,
            "exhaustive": self.exhaustive,
            "max_entries": self.max_entries,
            "probes": self.probes,
            "rtol": self.tolerance.rtol,
            "atol": self.tolerance.atol,
            "eps": self.eps,
            "seed": self.seed,
            "select": sorted(self.select) if self.select is not None else None,
            "skip": sorted(self.skip) if self.skip is not None else None,
            "n_jobs": self.n_jobs,
            "tolerance_rule": self.tolerance.describe(),
        }
