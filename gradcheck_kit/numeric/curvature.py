"""Curvature: the top Hessian eigenvalue from Hessian-vector products, never a dense Hessian."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["top_eigenvalue"]


def top_eigenvalue(
    gradient: Callable[[np.ndarray], np.ndarray],
    theta: np.ndarray,
    *,
    rng: np.random.Generator,
    eps: float | None = None,
    maxiter: int = 60,
) -> tuple[float, int]:
    """Largest algebraic eigenvalue λ of the Hessian at ``theta`` and the number of gradient calls used.

    ``gradient(theta_flat)`` returns the flat gradient. Products ``Hv ≈ (g(θ + εv) − g(θ − εv)) / 2ε`` are
    central differences of the gradient; ``scipy.sparse.linalg.eigsh`` finds λ on that linear operator
    (power iteration if ARPACK does not converge). Gradient descent on a quadratic is stable iff lr < 2/λ.
    """
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh  # slow import: only here

    n = theta.size
    base = eps if eps is not None else float(np.cbrt(np.finfo(np.float64).eps))
    scale = base * max(1.0, float(np.sqrt(np.mean(theta**2))) if n else 1.0)
    calls = 0

    def hvp(v: np.ndarray) -> np.ndarray:
        nonlocal calls
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        norm = float(np.linalg.norm(v))
        if norm == 0:
            return np.zeros(n)
        h = scale / norm
        calls += 2
        return (gradient(theta + h * v) - gradient(theta - h * v)) / (2 * h)

    if n == 1:
        return float(hvp(np.ones(1))[0]), calls
    operator = LinearOperator((n, n), matvec=hvp, dtype=np.float64)
    start = rng.normal(size=n)
    try:
        values = eigsh(operator, k=1, which="LA", v0=start, tol=1e-3, maxiter=maxiter,
                       ncv=min(n, 12), return_eigenvectors=False)
        return float(values[0]), calls
    except (ArpackNoConvergence, ArpackError):
        v = start / np.linalg.norm(start)
        value = math.nan
        for _ in range(30):
            w = hvp(v)
            value = float(v @ w)
            norm = float(np.linalg.norm(w))
            if norm == 0:
                break
            v = w / norm
        return value, calls
