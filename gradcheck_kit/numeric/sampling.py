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
    magnitude = np.abs(analytic.reshape(-1))
    magnitude = np.where(np.isfinite(magnitude), magnitude, np.inf)
    top = np.argpartition(-magnitude, n_top - 1)[:n_top]
    top = top[np.argsort(-magnitude[top], kind="stable")]
    rest_mask = np.ones(size, dtype=bool)
    rest_mask[top] = False
    rest = np.flatnonzero(rest_mask)
    chosen = rng.choice(rest, size=limit - n_top, replace=False)
    return np.concatenate([top, np.sort(chosen)])
