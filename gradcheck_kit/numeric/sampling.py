"""Which entries of a tensor to check when not checking all of them."""

from __future__ import annotations

import numpy as np

__all__ = ["choose_entries"]


def choose_entries(analytic: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices to check: every entry if there are at most ``limit``, else the largest-|gradient|
    third of the budget plus uniformly random others (so a wrong sign or scale shows on the entries that
    matter most, and a wrong zero shows on random ones)."""
    size = analytic.size
    if size <= limit:
        return np.arange(size)
    n_top = max(1, limit // 3)
    # one tensor-sized array at a time: |g| with NaN as the largest, negated in place for argpartition
    magnitude = np.abs(analytic.reshape(-1), dtype=np.float64)
    np.copyto(magnitude, np.inf, where=np.isnan(magnitude))
    np.negative(magnitude, out=magnitude)
    top = np.argpartition(magnitude, n_top - 1)[:n_top]
    top = top[np.argsort(magnitude[top], kind="stable")]
    del magnitude
    # uniformly random others: positions among the entries not in ``top``, mapped to flat indices without
    # listing those entries (the j-th such entry is j plus the number of top indices at or before it)
    picks = rng.choice(size - n_top, size=limit - n_top, replace=False)
    excluded = np.sort(top)
    chosen = picks + np.searchsorted(excluded - np.arange(n_top), picks, side="right")
    return np.concatenate([top, np.sort(chosen)])
