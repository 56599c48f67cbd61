"""``y += a·x`` in place, without a temporary the size of ``y``."""

from __future__ import annotations

import numpy as np

__all__ = ["add_scaled"]

#: Entries per slice of a large update: one temporary of this many entries (1 MB in float64, in the
#: cache) is reused for every slice.
SLICE = 1 << 17


def add_scaled(y: np.ndarray, a: float, x: np.ndarray) -> None:
    """``y += a * x`` in place (``x`` is only read), with numpy's rounding: ``a * x`` rounded to the
    result dtype, then added.

    Contiguous arrays of the same shape larger than `SLICE` go slice by slice through one small reused
    temporary, so memory is read and written about once (numpy's ``y += a * x`` writes and reads back a
    temporary as large as ``y``). Not BLAS ``daxpy``: scipy's BLAS is a second OpenBLAS next to numpy's,
    and its threads, spinning after each call, would take the cores the model's own matrix products
    run on."""
    if not (y.shape == x.shape and y.flags.c_contiguous and x.flags.c_contiguous) or y.size <= SLICE:
        y += a * x
        return
    flat, part = y.reshape(-1), x.reshape(-1)
    scaled = np.empty(SLICE, dtype=(a * part[:1]).dtype)  # the dtype numpy gives a * x
    for start in range(0, flat.size, SLICE):
        stop = min(start + SLICE, flat.size)
        step = scaled[:stop - start]
        np.multiply(part[start:stop], a, out=step)
        np.add(flat[start:stop], step, out=flat[start:stop], casting="same_kind")
