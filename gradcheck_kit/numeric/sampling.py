"""Which entries of a tensor to check when not checking all of them."""

from __future__ import annotations

import math

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
    flat = analytic.reshape(-1)
    top = _largest(flat, n_top)
    top = top[np.argsort(-_magnitude(flat[top]), kind="stable")]
    # uniformly random others: positions among the entries not in ``top``, mapped to flat indices without
    # listing those entries (the j-th such entry is j plus the number of top indices at or before it)
    picks = rng.choice(size - n_top, size=limit - n_top, replace=False)
    excluded = np.sort(top)
    chosen = picks + np.searchsorted(excluded - np.arange(n_top), picks, side="right")
    return np.concatenate([top, np.sort(chosen)])


#: Entries per block when the largest entries are found through the blocks' maxima.
BLOCK = 1024
#: Blocks whose maxima are taken at a time (the magnitudes of 2¹⁸ entries, 2 MB, exist at once).
BLOCKS_AT_ONCE = 256


def _magnitude(values: np.ndarray) -> np.ndarray:
    """``|values|`` in float64, NaN as infinity (a NaN gradient entry counts as the largest)."""
    magnitude = np.abs(values, dtype=np.float64)
    np.copyto(magnitude, np.inf, where=np.isnan(magnitude))
    return magnitude


def _largest(flat: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the ``k`` entries of ``flat`` (1-D) largest in magnitude (`_magnitude`).

    The ``k`` largest entries lie in the ``k`` blocks with the largest maxima (a block holding one of them
    has a maximum at least that large): only those blocks are partitioned, not the whole tensor, and the
    maxima are taken a few blocks at a time, so no tensor-sized array of magnitudes is made."""
    if flat.size <= 8 * BLOCK or k > flat.size // (8 * BLOCK):
        return np.argpartition(-_magnitude(flat), k - 1)[:k]
    blocks = flat.size // BLOCK
    maxima = np.empty(blocks)
    for first in range(0, blocks, BLOCKS_AT_ONCE):
        last = min(first + BLOCKS_AT_ONCE, blocks)
        maxima[first:last] = _magnitude(flat[first * BLOCK:last * BLOCK]).reshape(-1, BLOCK).max(axis=1)
    chosen = np.sort(np.argpartition(-maxima, k - 1)[:k])
    candidates = np.concatenate([(chosen[:, None] * BLOCK + np.arange(BLOCK)).reshape(-1),
                                 np.arange(blocks * BLOCK, flat.size)])  # the tail is always a candidate
    return candidates[np.argpartition(-_magnitude(flat[candidates]), k - 1)[:k]]


#: From this many entries up, `uniform_signs` converts the generator's raw 64-bit outputs itself, a chunk
#: at a time (`DRAW_CHUNK` entries: 2 MB of raw bits in the cache), instead of numpy's one call per number:
#: less than half the time for a 10⁸-entry tensor, the same numbers bit for bit.
FAST_DRAW = 1 << 16
DRAW_CHUNK = 1 << 19  # even: a chunk takes whole 64-bit outputs


def uniform_signs(rng: np.random.Generator, shape: tuple[int, ...], out: np.ndarray | None = None) -> np.ndarray:
    """float32 entries uniform in [-1, 1): a random direction's entries (continuous, so never all equal like
    ±1 signs can be; a quarter of the time of Gaussian ones; float32 is all the precision a direction needs).
    ``out``: a C-contiguous float32 array of ``shape`` to draw into (the same numbers as without it).

    Exactly ``2 · rng.random(shape, dtype=np.float32) - 1``, leaving ``rng`` in the same state."""
    size = math.prod(shape)
    bits = rng.bit_generator
    if (size >= FAST_DRAW and type(bits) is np.random.PCG64 and (out is None or out.flags.c_contiguous)
            and not bits.state["has_uint32"]):
        signs = np.empty(shape, dtype=np.float32) if out is None else out
        _draw_from_raw(bits, signs.reshape(-1))
        return signs
    signs = rng.random(shape, dtype=np.float32) if out is None else rng.random(dtype=np.float32, out=out)
    np.multiply(signs, 2, out=signs)
    np.subtract(signs, 1, out=signs)
    return signs


def _draw_from_raw(bits: np.random.PCG64, flat: np.ndarray) -> None:
    """numpy's float32 uniform is ``(u >> 8) · 2⁻²⁴`` for each 32-bit output ``u``, and PCG64 gives 32-bit
    outputs as the low then the high half of each 64-bit one, holding back the high half of the last
    (``has_uint32``) for an odd count. ``2·r − 1`` is then ``(u >> 8) · 2⁻²³ − 1``: every step exact but the
    last, rounded as numpy rounds it."""
    last = np.uint32(0)
    for start in range(0, flat.size, DRAW_CHUNK):
        stop = min(start + DRAW_CHUNK, flat.size)
        halves = bits.random_raw((stop - start + 1) // 2).view(np.uint32)
        last = halves[-1]
        words = halves[:stop - start]
        np.right_shift(words, 8, out=words)
        part = flat[start:stop]
        np.multiply(words, np.float32(2.0**-23), out=part, dtype=np.float32)
        np.subtract(part, np.float32(1), out=part)
    if flat.size % 2:  # the high half of the last output is what numpy would hand out next
        state = bits.state
        state["has_uint32"], state["uinteger"] = 1, int(last)
        bits.state = state
