"""``y += a·x`` in place, and ``out = base + a·x``, without a temporary the size of ``y`` or ``out``."""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["add_scaled", "put_moved"]

#: Entries per slice of a large update: one temporary of this many entries (1 MB in float64, in the
#: cache) is reused for every slice.
SLICE = 1 << 17
#: Below this many entries (128 kB in float64) numpy's own ``y += a * x``: its temporary is small enough to
#: come from the allocator's free lists.
SMALL = 1 << 14

_scratch = threading.local()


def _temporary(dtype: np.dtype) -> np.ndarray:
    """This thread's temporary of `SLICE` entries of ``dtype``, kept between calls: a training replay
    makes hundreds of updates, and a new temporary above the allocator's threshold for reusing memory
    comes from the system as fresh pages every time."""
    buffers: dict[np.dtype, np.ndarray] = _scratch.__dict__.setdefault("buffers", {})
    buffer = buffers.get(dtype)
    if buffer is None or buffer.size < SLICE:
        buffer = buffers[dtype] = np.empty(SLICE, dtype=dtype)
    return buffer


def add_scaled(y: np.ndarray, a: float, x: np.ndarray) -> None:
    """``y += a * x`` in place (``x`` is only read), with numpy's rounding: ``a * x`` rounded to the
    result dtype, then added.

    Contiguous arrays of the same shape, from `SMALL` entries up, go slice by slice (`SLICE` entries)
    through one temporary per thread and dtype, kept for the thread's life (1 MB in float64), so memory is
    read and written about once (numpy's ``y += a * x`` writes and reads back a new temporary as large as
    ``y``). Not BLAS ``daxpy``: scipy's BLAS is a second OpenBLAS next to numpy's,
    and its threads, spinning after each call, would take the cores the model's own matrix products
    run on."""
    if y.size < SMALL or not (y.shape == x.shape and y.flags.c_contiguous and x.flags.c_contiguous):
        y += a * x
        return
    flat, part = y.reshape(-1), x.reshape(-1)
    scaled = _temporary((a * part[:1]).dtype)  # the dtype numpy gives a * x
    for start in range(0, flat.size, SLICE):
        stop = min(start + SLICE, flat.size)
        step = scaled[:stop - start]
        np.multiply(part[start:stop], a, out=step)
        np.add(flat[start:stop], step, out=flat[start:stop], casting="same_kind")


def put_moved(out: np.ndarray, base: np.ndarray, a: float, x: np.ndarray) -> None:
    """``out = base + a·x``: ``a·x`` computed in float64, rounded to ``out``'s dtype, then added to ``base`` —
    bit for bit ``np.multiply(x, a, out=out, dtype=np.float64, casting="same_kind"); out += base``.

    That pair reads and writes ``out`` twice; contiguous arrays of one shape, from `SMALL` entries up, go
    slice by slice through this thread's temporary instead, so each array is read (``out`` written) once:
    a moved parameter tensor of 10⁸ entries costs 2 GB of memory traffic instead of 3.6."""
    if out.size < SMALL or not (out.shape == base.shape == x.shape and out.flags.c_contiguous
                                and base.flags.c_contiguous and x.flags.c_contiguous):
        np.multiply(x, a, out=out, dtype=np.float64, casting="same_kind")
        out += base
        return
    flat, start_values, part = out.reshape(-1), base.reshape(-1), x.reshape(-1)
    scaled = _temporary(out.dtype)
    for start in range(0, flat.size, SLICE):
        stop = min(start + SLICE, flat.size)
        step = scaled[:stop - start]
        np.multiply(part[start:stop], a, out=step, dtype=np.float64, casting="same_kind")
        np.add(step, start_values[start:stop], out=flat[start:stop], casting="same_kind")
