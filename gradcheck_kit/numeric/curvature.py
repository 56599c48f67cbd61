"""Curvature: the top Hessian eigenvalue from Hessian-vector products, never a dense Hessian.

Lanczos without reorthogonalisation, holding two n-vectors besides the baseline and what the gradient
itself allocates (ARPACK's ``eigsh`` held about thirty). Its largest Ritz value approaches the largest
*algebraic* eigenvalue from below whatever the signs of the others, so a negative eigenvalue of larger
magnitude (the benchmark MLP on ×50 inputs has one) needs no shift; without reorthogonalisation the converged
values only reappear as copies, which does not move the largest one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .axpy import add_scaled

__all__ = ["RTOL", "GradientDifference", "top_eigenvalue"]

#: ``difference(v, h, out)`` adds ``g(θ + h·v) − g(θ − h·v)`` to ``out`` (flat, float64, ``(n,)``), ``g`` the
#: gradient and ``θ`` the baseline, which the caller holds; it makes two gradient calls.
GradientDifference = Callable[[np.ndarray, float, np.ndarray], None]

#: λ is decided when its predicted remaining change is below this fraction of it. The check reports 2/λ and
#: 1/λ rounded down to one significant figure, so 1% is below what the message shows.
RTOL = 1e-2

def top_eigenvalue(
    difference: GradientDifference,
    n: int,
    *,
    scale: float = 1.0,
    rng: np.random.Generator,
    eps: float | None = None,
    maxiter: int = 60,
    rtol: float = RTOL,
) -> tuple[float, int]:
    """Largest algebraic eigenvalue λ of the Hessian at the baseline ``θ`` and the number of gradient calls used.

    Parameters
    ----------
    difference
        Adds ``g(θ + h·v) − g(θ − h·v)`` to its third argument, ``(n,)`` (see `GradientDifference`);
        ``Hv ≈ that / 2h`` is a central difference of the gradient.
    n
        The number of parameters.
    scale
        The parameters' scale: ``max(1, RMS of θ)``.
    rng
        Draws the start vector.
    eps
        Relative step of the central difference (default ``cbrt(float64 eps)``), times ``scale``.
    maxiter
        At most this many Hessian-vector products (two gradient calls each; at least one).
    rtol
        λ is decided when its predicted remaining change is below ``rtol·|λ|``.

    Returns
    -------
    λ and the gradient calls made. λ is 0 for a zero Hessian and nan when a product is not finite; when
    ``maxiter`` runs out, the last estimate (a lower bound, as every one is).

    Notes
    -----
    Gradient descent on a quadratic is stable iff lr < 2/λ. Stopping rule: the largest Ritz value rises
    towards λ at least geometrically, so with ``d`` its last change and ``q`` the ratio of its last two
    changes, the rise still to come is at most about ``|d| / (1 − q)``; λ is decided once that is below
    ``rtol·|λ|`` (at least three products), or at once when the Krylov space stops growing (then the Ritz
    values are eigenvalues: one product for a one-parameter model, or a zero Hessian).
    """
    if n == 0:
        return math.nan, 0
    base = eps if eps is not None else float(np.cbrt(np.finfo(np.float64).eps))
    h = base * scale
    v = rng.normal(size=n)
    v /= np.linalg.norm(v)
    w = np.zeros(n)  # v_{j-1} (zero at the start), overwritten by the next Lanczos vector
    alphas: list[float] = []
    betas: list[float] = []
    top: list[float] = []
    for _ in range(max(maxiter, 1)):  # at least one product: λ is always an estimate
        # w ← H·v − β·w, accumulated in w itself: two n-vectors are all the recurrence holds
        w *= -2 * h * (betas[-1] if betas else 0.0)
        difference(v, h, w)
        w *= 1 / (2 * h)
        alpha = float(v @ w)
        add_scaled(w, -alpha, v)
        beta = float(np.linalg.norm(w))
        alphas.append(alpha)
        if not (math.isfinite(alpha) and math.isfinite(beta)):
            return math.nan, 2 * len(alphas)
        ritz = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)  # at most maxiter × maxiter
        top.append(float(np.linalg.eigvalsh(ritz)[-1]))
        # the Krylov space stopped growing: its Ritz values are eigenvalues
        if beta <= 1e-12 * max(abs(a) for a in alphas):
            break
        if _settled(top, rtol * abs(top[-1])):
            break
        betas.append(beta)
        w /= beta
        v, w = w, v
    return top[-1], 2 * len(alphas)


def _settled(history: list[float], tolerance: float) -> bool:
    """Whether a geometrically converging sequence's remaining change, predicted from its last two changes
    (``|d| / (1 − |q|)``, ``q`` their ratio), is within ``tolerance``."""
    if len(history) < 3:
        return False
    last, before = history[-1] - history[-2], history[-2] - history[-3]
    # capped: a sequence whose changes do not shrink must have changed by < 1% of the tolerance to settle
    ratio = min(abs(last / before), 0.99) if before else 0.0
    return abs(last) / (1 - ratio) <= tolerance
