"""Hessian-vector products on the model: the analytic gradient at ``θ ± h·v``, in place.

The flat baseline ``θ`` is the one full copy of the parameters: ``θ ± h·v`` is written straight into
the model's working arrays tensor by tensor, each gradient added straight into the caller's flat vector, and
the baseline is put back once, when the block ends (not snapshotted per gradient call).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..model.batch import Batch
from ..model.view import ModelView
from ..numeric.curvature import GradientDifference

__all__ = ["gradient_differences"]


@contextmanager
def gradient_differences(view: ModelView, batch: Batch) -> Iterator[tuple[np.ndarray, GradientDifference]]:
    """Within the block: the baseline parameters as one flat float64 vector ``θ``, ``(n,)``, and
    ``difference(v, h, out)`` adding ``g(θ + h·v) − g(θ − h·v)`` to ``out``, ``(n,)``, ``g`` the model's
    analytic gradient on ``batch``. The working parameters hold the baseline again when the block ends."""
    names = view.names
    bounds: list[tuple[str, slice, tuple[int, ...]]] = []
    offset = 0
    for name in names:
        array = view.params[name]
        bounds.append((name, slice(offset, offset + array.size), array.shape))
        offset += array.size
    theta = np.empty(offset)
    for name, part, _ in bounds:
        theta[part] = view.params[name].reshape(-1)

    def gradient(v: np.ndarray, step: float, out: np.ndarray, *, subtract: bool) -> None:
        for name, part, shape in bounds:
            array = view.params[name]  # θ + step·v, written in place: no full-size temporary
            np.multiply(v[part].reshape(shape), step, out=array, casting="unsafe")
            np.add(array, theta[part].reshape(shape), out=array, casting="unsafe")
        view.load(view.params)  # re-binds any slot the model's code re-assigned; the values are already there
        grads = view.gradients(batch, copy=False)  # read at once: no copy of the model's arrays
        for name, part, _ in bounds:
            g = grads.pop(name).reshape(-1)
            (np.subtract if subtract else np.add)(out[part], g, out=out[part])

    def difference(v: np.ndarray, step: float, out: np.ndarray) -> None:
        gradient(v, step, out, subtract=False)
        gradient(v, -step, out, subtract=True)

    try:
        yield theta, difference
    finally:
        view.load({name: theta[part].reshape(shape) for name, part, shape in bounds})
