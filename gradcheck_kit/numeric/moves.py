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
        squares = sum(float(np.sum(np.square(a, dtype=np.float64))) for a in self.saved.values())
        self.scale = max(1.0, math.sqrt(squares / max(self.total, 1)))

    def to(self, direction: Mapping[str, np.ndarray], t: float) -> None:
        """Set every array to its saved value plus ``t`` times its part of ``direction``."""
        for name, saved in self.saved.items():
            np.add(saved, t * direction[name], out=self.arrays[name], casting="unsafe")

    def restore(self) -> None:
        for name, saved in self.saved.items():
            np.copyto(self.arrays[name], saved)

    def __enter__(self) -> WholeMove:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()
