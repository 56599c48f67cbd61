"""Hessian-vector products on the model: the analytic gradient at ``θ ± h·v``, in place.

The model's working arrays are the only copy of the baseline ``θ``: ``θ ± h·v`` is written straight into
them and the baseline recovered from each point bitwise (`CentralMove`; the few entries a round trip would
not give back are saved per move), each gradient added straight into the caller's flat vector.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..errors import ModelCallError
from ..model.batch import Batch
from ..model.view import ModelView
from ..numeric.curvature import GradientDifference
from ..numeric.moves import CentralMove

__all__ = ["gradient_differences"]


@contextmanager
def gradient_differences(view: ModelView, batch: Batch) -> Iterator[tuple[int, float, GradientDifference]]:
    """Within the block: the number of parameters ``n``, ``max(1, their RMS)``, and ``difference(v, h, out)`` adding
    ``g(θ + h·v) − g(θ − h·v)`` to ``out``, ``(n,)``, ``g`` the model's analytic gradient on ``batch`` and
    ``θ`` the working parameters as the block starts. They hold ``θ`` again, bitwise, when the block ends.

    Raises
    ------
    ModelCallError
        The model's gradient call wrote into its parameters (they are not ``θ`` when the block ends).
    """
    names = view.names
    bounds: list[tuple[str, slice]] = []
    offset = 0
    for name in names:
        bounds.append((name, slice(offset, offset + view.params[name].size)))
        offset += view.params[name].size
    move = CentralMove([(view.params[name], part) for name, part in bounds])

    def gradient(out: np.ndarray, *, subtract: bool) -> None:
        view.rebind()  # any slot the model's code re-assigned; the values are already there
        grads = view.gradients(batch, copy=False)  # read at once: no copy of the model's arrays
        for name, part in bounds:
            g = grads.pop(name).reshape(-1)
            (np.subtract if subtract else np.add)(out[part], g, out=out[part])

    def difference(v: np.ndarray, step: float, out: np.ndarray) -> None:
        move.plus(v, step)
        gradient(out, subtract=False)
        move.minus()
        gradient(out, subtract=True)
        move.back()

    failed = True
    try:
        yield move.total, move.scale, difference
        failed = False
    finally:
        move.back()
        view.rebind()
    if not failed and not move.intact():
        raise ModelCallError(
            f"{view.label}'s gradient call wrote into its parameters while the kit estimated the loss's curvature "
            "(they differ from before, bitwise), though it did not when first inspected; the curvature and every "
            "check after it would be taken at the wrong point. A gradient must leave the parameters as they are: "
            "apply updates in the training step, not in the code that computes the gradient")

