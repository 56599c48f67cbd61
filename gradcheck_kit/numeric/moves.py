"""Moving every parameter array at once, ``θ + t·d`` (or ``θ ± h·v`` without a copy of ``θ``), and putting them
back bitwise."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .axpy import put_moved
from .steps import sum_of_squares

__all__ = ["CentralMove", "WholeMove"]


class WholeMove:
    """Moves every array of ``arrays`` at once; the saved values are written back on exit.

    ``total`` is the number of entries and ``scale`` is ``max(1, RMS of all entries)``, the factor a
    finite-difference step over all parameters is scaled by. ``saved``: copies of ``arrays``' values, bitwise,
    that the caller holds (only read here); copies are taken when not given.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], saved: Mapping[str, np.ndarray] | None = None) -> None:
        self.arrays = arrays
        self.saved = {n: a.copy() for n, a in arrays.items()} if saved is None else dict(saved)
        self.total = sum(a.size for a in self.saved.values())
        squares = sum(sum_of_squares(a) for a in self.saved.values())
        self.scale = max(1.0, math.sqrt(squares / max(self.total, 1)))

    def to(self, direction: Mapping[str, np.ndarray], t: float) -> None:
        """Set every array to its saved value plus ``t`` times its part of ``direction``."""
        for name, saved in self.saved.items():
            target, d = self.arrays[name], direction[name]
            if target.dtype == np.float64 and d.dtype in (np.float64, np.float32):  # in place: no temporary
                put_moved(target, saved, t, d)  # in float64 for a float32 direction too
            else:
                np.add(saved, t * d, out=target, casting="unsafe")

    def restore(self) -> None:
        for name, saved in self.saved.items():
            np.copyto(self.arrays[name], saved)

    def __enter__(self) -> WholeMove:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()


#: Entries per chunk of a `CentralMove` (a few chunk-sized temporaries, 128 KB each; at most 2¹⁶, the
#: positions it saves are uint16).
CHUNK = 1 << 14


class CentralMove:
    """Moves arrays from their baseline ``θ`` to ``θ + h·v``, then to ``θ − h·v``, then back to ``θ`` bitwise,
    in place and without a copy of ``θ``.

    Each point holds exactly the values ``θ ± h·v`` computed from ``θ`` (``fl(θ ± fl(h·v))``). An entry whose
    baseline comes back exactly from the point it was moved to (``fl(x ∓ h·v) = θ``, checked bit by bit when
    the move starts) is recovered from that point; the others — an entry much smaller than its step, say —
    are saved one by one for that move (the whole chunk when most of it is). Arrays that are not C-contiguous
    float64, or that share memory with another, are saved whole instead.

    ``arrays`` are ``(array, part)``: ``part`` is the slice of the flat direction ``v`` that moves ``array``
    (its entries in C order). A model that wrote into them between moves would leave a wrong baseline:
    `intact` says whether the moved arrays are bitwise as they were at the start. `back` is exact from either
    point, also after the model raised; a Ctrl-C in the middle of a move can leave the arrays partly moved (the
    run then ends, and the user's own model is restored by its guard).

    ``total`` and ``scale`` are as in `WholeMove`.
    """

    def __init__(self, arrays: Sequence[tuple[np.ndarray, slice]]) -> None:
        self.arrays = list(arrays)
        shared = _sharing_memory([a for a, _ in self.arrays])
        self.saved = {i: a.copy() for i, (a, _) in enumerate(self.arrays)
                      if i in shared or a.dtype != np.float64 or not a.flags.c_contiguous}
        #: (array number, chunk start) → (positions in the chunk, their baseline values), for the current move
        self.kept: dict[tuple[int, int], tuple[np.ndarray | slice, np.ndarray]] = {}
        self.v = np.empty(0)
        self.h = 0.0
        self.at = 0  # 0: the baseline; +1, -1: θ ± h·v
        self.crc = self._crc()
        self.total = sum(a.size for a, _ in self.arrays)
        squares = sum(sum_of_squares(a) for a, _ in self.arrays)
        self.scale = max(1.0, math.sqrt(squares / max(self.total, 1)))

    def plus(self, v: np.ndarray, h: float) -> None:
        """From the baseline to ``θ + h·v`` (``v`` flat, ``(n,)`` float64, kept until `back`)."""
        self.v, self.h, self.kept = v, h, {}
        self._each(self._plus, 1.0)
        self.at = 1

    def minus(self) -> None:
        """From ``θ + h·v`` to ``θ − h·v``."""
        self._each(self._minus, -1.0)
        self.at = -1

    def back(self) -> None:
        """To the baseline, bitwise, from wherever the move is."""
        if self.at:
            self._each(self._back, 0.0)
        self.at, self.kept, self.v = 0, {}, np.empty(0)

    def intact(self) -> bool:
        """Whether the arrays moved in place are bitwise as they were at the start (at the baseline only)."""
        return self.at == 0 and self._crc() == self.crc

    # -- per chunk --------------------------------------------------------------------------------
    def _each(self, step: Callable[[int, int, np.ndarray, np.ndarray], None], sign: float) -> None:
        for i, (array, part) in enumerate(self.arrays):
            v = self.v[part]
            if i in self.saved:  # from the saved copy, computed as the in-place path computes it
                if sign:
                    np.multiply(v.reshape(array.shape), sign * self.h, out=array, casting="unsafe")
                    np.add(array, self.saved[i], out=array, casting="unsafe")
                else:
                    np.copyto(array, self.saved[i])
                continue
            flat = array.reshape(-1)
            for start in range(0, flat.size, CHUNK):
                chunk = slice(start, start + CHUNK)
                step(i, start, flat[chunk], v[chunk] * self.h)

    def _plus(self, i: int, start: int, x: np.ndarray, d: np.ndarray) -> None:
        up, down = x + d, x - d
        lost = (up - d).view(np.int64) != x.view(np.int64)
        lost |= (down + d).view(np.int64) != x.view(np.int64)
        if lost.any():
            where = np.flatnonzero(lost).astype(np.uint16)  # positions in a chunk: 2 bytes each
            dense = where.size * (2 + 8) > x.size * 8
            self.kept[i, start] = (slice(None), x.copy()) if dense else (where, x[where])
        x[...] = up

    def _baseline(self, i: int, start: int, theta: np.ndarray) -> np.ndarray:
        if (i, start) in self.kept:
            where, values = self.kept[i, start]
            theta[where] = values
        return theta

    def _minus(self, i: int, start: int, x: np.ndarray, d: np.ndarray) -> None:
        theta = self._baseline(i, start, x - d)
        np.subtract(theta, d, out=x)

    def _back(self, i: int, start: int, x: np.ndarray, d: np.ndarray) -> None:
        x[...] = self._baseline(i, start, x - d if self.at > 0 else x + d)

    def _crc(self) -> int:
        crc = 0
        for i, (array, _) in enumerate(self.arrays):
            if i not in self.saved:
                crc = zlib.crc32(array.data, crc)
        return crc


def _sharing_memory(arrays: Sequence[np.ndarray]) -> set[int]:
    """Positions of the arrays whose memory may overlap another's: every array in a run of byte ranges that
    overlap one another (never misses one; sorted, so many tensors cost no pairwise comparison)."""
    shared: set[int] = set()
    run: list[int] = []
    reach = -1  # the furthest end of the run so far
    for low, high, i in sorted((*_byte_bounds(a), i) for i, a in enumerate(arrays) if a.size):
        if low >= reach:
            if len(run) > 1:
                shared.update(run)
            run = []
        run.append(i)
        reach = max(reach, high)
    if len(run) > 1:
        shared.update(run)
    return shared


def _byte_bounds(a: np.ndarray) -> tuple[int, int]:
    """The first byte of ``a`` and one past its last (``numpy.byte_bounds``, which moved in numpy 2)."""
    low = high = a.__array_interface__["data"][0]
    for n, stride in zip(a.shape, a.strides, strict=True):
        if stride < 0:
            low += stride * (n - 1)
        else:
            high += stride * (n - 1)
    return low, high + a.itemsize
