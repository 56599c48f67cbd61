"""Which entries of a tensor to check when not checking all of them."""

from __future__ import annotations

import numpy as np

__all__ = ["choose_entries", "uniform_signs"]


def choose_entries(analytic: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices to check: every entry if there are at most ``limit``, else the largest-|gradient|
    third of the budget plus uniformly random others (so a wrong sign or scale shows on the entries that
    matter most, and a wrong zero shows on random ones)."""
    size = analytic.size
    if size <= limit:
        return np.arange(size)
    n_top = max(1, limit // 3)
    magnitude = np.abs(analytic.reshape(-1), dtype=np.float64)  # the one tensor-sized array
    top = _largest(magnitude, n_top)
    top = top[np.argsort(-magnitude[top], kind="stable")]
    del magnitude
    # uniformly random others: positions among the entries not in ``top``, mapped to flat indices without
    # listing those entries (the j-th such entry is j plus the number of top indices at or before it)
    picks = rng.choice(size - n_top, size=limit - n_top, replace=False)
    excluded = np.sort(top)
    chosen = picks + np.searchsorted(excluded - np.arange(n_top), picks, side="right")
    return np.concatenate([top, np.sort(chosen)])


#: Entries per block when the largest entries are found through the blocks' maxima.
BLOCK = 1024


def _largest(magnitude: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the ``k`` largest entries of ``magnitude`` (1-D, ≥ 0; NaN counts as the largest).

    The ``k`` largest entries lie in the ``k`` blocks with the largest maxima (a block holding one of them
    has a maximum at least that large): only those blocks are partitioned, not the whole tensor."""
    if magnitude.size <= 8 * BLOCK or k > magnitude.size // (8 * BLOCK):
        if np.isnan(magnitude).any():
            magnitude = np.where(np.isnan(magnitude), np.inf, magnitude)
        return np.argpartition(-magnitude, k - 1)[:k]
    blocks = magnitude.size // BLOCK
    maxima = magnitude[: blocks * BLOCK].reshape(blocks, BLOCK).max(axis=1)
    if np.isnan(maxima).any() or (magnitude.size > blocks * BLOCK and np.isnan(magnitude[blocks * BLOCK:]).any()):
        np.copyto(magnitude, np.inf, where=np.isnan(magnitude))
        maxima = magnitude[: blocks * BLOCK].reshape(blocks, BLOCK).max(axis=1)
    chosen = np.sort(np.argpartition(-maxima, k - 1)[:k])
    candidates = np.concatenate([(chosen[:, None] * BLOCK + np.arange(BLOCK)).reshape(-1),
                                 np.arange(blocks * BLOCK, magnitude.size)])  # the tail is always a candidate
    return candidates[np.argpartition(-magnitude[candidates], k - 1)[:k]]


def uniform_signs(rng: np.random.Generator, shape: tuple[int, ...], out: np.ndarray | None = None) -> np.ndarray:
    """float32 entries uniform in [-1, 1): a random direction's entries (continuous, so never all equal like
    ±1 signs can be; a quarter of the time of Gaussian ones; float32 is all the precision a direction needs).
    ``out``: a C-contiguous float32 array of ``shape`` to draw into (the same numbers as without it)."""
    signs = rng.random(shape, dtype=np.float32) if out is None else rng.random(dtype=np.float32, out=out)
    np.multiply(signs, 2, out=signs)
    np.subtract(signs, 1, out=signs)
    return signs
