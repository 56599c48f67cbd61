"""Small real data shipped with the package, for the examples and the demo."""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["load_digits"]


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 8×8 handwritten digits: ``X`` (1797, 64) uint8 pixel counts 0..16, ``y`` (1797,) labels 0..9.

    A copy of the test set of the UCI "Optical Recognition of Handwritten Digits" data (E. Alpaydin,
    C. Kaynak, 1998; CC BY 4.0), as distributed by scikit-learn's ``load_digits``; each pixel counts the
    on-pixels in a 4×4 block of a 32×32 bitmap.
    """
    with resources.files("gradcheck_kit").joinpath("data/digits.npz").open("rb") as handle:
        with np.load(handle, allow_pickle=False) as data:
            return data["X"].copy(), data["y"].copy()
