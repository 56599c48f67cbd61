"""``y += a·x`` in place, in one pass over memory and without a temporary the size of ``y``."""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import daxpy

__all__ = ["add_scaled"]

#: Entries per slice where the update goes through numpy (a small temporary instead of a tensor-sized one).
SLICE = 1 << 16
#: From this size on a float64 update goes through BLAS (below it, numpy's call costs less than BLAS's).
BLAS_FROM = 1 << 12
#: BLAS counts entries in a 32-bit integer.
_BLAS_MAX = 2**31 - 1


def add_scaled(y: np.ndarray, a: float, x: np.ndarray) -> None:
    """``y += a * x`` in place (``x`` is only read).

    Contiguous float64 arrays of the same shape that do not overlap go through BLAS ``daxpy``: one read of
    each and one write of ``y`` (numpy's ``y -= a * x`` reads and writes a temporary as large as ``y``). It
    may fuse the multiply and the add, so the result can differ from numpy's in the last bit. Other arrays
    (float32 ones, strided views) take numpy's update, rounded to ``y``'s dtype, slice by slice when both
    are contiguous."""
    same = y.shape == x.shape and y.flags.c_contiguous and x.flags.c_contiguous
    if (same and y.dtype == np.float64 and x.dtype == np.float64 and BLAS_FROM <= y.size <= _BLAS_MAX
            and not np.may_share_memory(y, x)):
        flat = y.reshape(-1)
        if daxpy(x.reshape(-1), flat, a=a) is flat:  # in place, as it is for a contiguous float64 y
            return
        # a copy came back and y is untouched (not seen with scipy's wrappers): numpy's update below
    if not same or y.size <= SLICE:
        y += a * x
        return
    flat, part = y.reshape(-1), x.reshape(-1)
    for start in range(0, flat.size, SLICE):
        flat[start:start + SLICE] += a * part[start:start + SLICE]
