"""Moving every parameter array at once, ``θ + t·d``, and putting them back bitwise."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = ["WholeMove"]


class WholeMove:
    """Moves every array of ``arrays`` at once; the saved values are written back on exit.

    ``total`` is the number of entries and ``scale`` is ``max(1, RMS of all entries)``, the factor a
    finite-difference step over all parameters is scaled by.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.saved = {n: a.copy() for n, a in arrays.items()}
        self.total = sum(a.size for a in self.saved.values())
        squares = sum(_sum_of_squares(a) for a in self.saved.values())
        self.scale = max(1.0, math.sqrt(squares / max(self.total, 1)))

    def to(self, direction: Mapping[str, np.ndarray], t: float) -> None:
        """Set every array to its saved value plus ``t`` times its part of ``direction``."""
        for name, saved in self.saved.items():
            target, d = self.arrays[name], direction[name]
            if target.dtype == np.float64 and d.dtype in (np.float64, np.float32):  # in place: no temporary
                np.multiply(d, np.float64(t), out=target)  # the product in float64 for a float32 direction too
                target += saved
            else:
                np.add(saved, t * d, out=target, casting="unsafe")

    def restore(self) -> None:
        for name, saved in self.saved.items():
            np.copyto(self.arrays[name], saved)

    def __enter__(self) -> WholeMove:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()


def _sum_of_squares(a: np.ndarray) -> float:
    """Σ a², in float64, without a squared copy of a float64 array."""
    if a.dtype == np.float64 and a.flags.c_contiguous:
        flat = a.reshape(-1)
        return float(np.dot(flat, flat))
    return float(np.sum(np.square(a, dtype=np.float64)))
