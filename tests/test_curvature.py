"""The top Hessian eigenvalue behind exploding-learning-rate: quadratics whose spectrum is known, the memory
it takes, and the model's parameters as they were afterwards."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.checks.evidence import curvature
from gradcheck_kit.model.adapt import adapt
from gradcheck_kit.numeric.curvature import RTOL, top_eigenvalue

DUMMY = (np.zeros((2, 1)), np.zeros(2, dtype=int))


def quadratic(eigenvalues, seed=0):
    """``difference`` and ``θ`` for the loss ½ θᵀAθ, A = Q·diag(eigenvalues)·Qᵀ with a random rotation Q."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(len(eigenvalues), len(eigenvalues))))
    A = q @ np.diag(eigenvalues) @ q.T
    theta = rng.normal(size=len(eigenvalues))

    def difference(v, h, out):
        out += A @ (theta + h * v) - A @ (theta - h * v)

    return difference, theta


def top(eigenvalues, **kw):
    difference, theta = quadratic(np.asarray(eigenvalues, dtype=float))
    return top_eigenvalue(difference, theta, rng=np.random.default_rng(1), **kw)


def test_top_eigenvalue_of_a_positive_definite_quadratic_is_found_from_below():
    lam, calls = top(np.linspace(0.01, 3.0, 60))  # no gap below the top: the slowest case
    assert 3.0 * (1 - 2 * RTOL) <= lam <= 3.0 * (1 + 1e-9)
    assert calls % 2 == 0 and 6 <= calls < 2 * 60


def test_a_separated_top_eigenvalue_is_decided_in_a_few_products():
    lam, calls = top(np.r_[np.linspace(0.01, 1.0, 59), 10.0])
    assert lam == pytest.approx(10.0, rel=1e-3) and calls <= 20


def test_a_larger_negative_eigenvalue_does_not_hide_the_top_positive_one():
    # power iteration would settle on -10; gradient descent's stability depends on the largest algebraic one
    lam, _ = top(np.linspace(-10.0, 2.0, 60))
    assert 2.0 * (1 - 2 * RTOL) <= lam <= 2.0 * (1 + 1e-9)


def test_plus_and_minus_one_eigenvalue_of_one_size_gives_the_positive_one():
    lam, _ = top(np.r_[-4.0, 4.0, np.linspace(-1.0, 1.0, 30)])
    assert lam == pytest.approx(4.0, rel=RTOL)


def test_a_concave_quadratic_gives_its_least_negative_eigenvalue():
    lam, _ = top(np.linspace(-5.0, -1.0, 40))
    assert -1.0 - 5 * 2 * RTOL <= lam <= -1.0 + 1e-9


def test_maxiter_bounds_the_gradient_calls():
    lam, calls = top(np.linspace(0.01, 3.0, 60), maxiter=3)
    assert calls == 6 and lam <= 3.0


def test_a_non_finite_product_gives_nan():
    def difference(v, h, out):
        out += np.nan

    lam, calls = top_eigenvalue(difference, np.ones(5), rng=np.random.default_rng(0))
    assert math.isnan(lam) and calls == 2


def wrapped_quadratic(d, start=None):
    """The loss ½ Σ dᵢ·wᵢ² as a wrapped model: its Hessian is diag(d)."""
    w = np.ones(len(d)) if start is None else start
    return gk.wrap({"w": w}, loss=lambda p, X, y: 0.5 * float(p["w"] @ (d * p["w"])),
                   grads=lambda p, X, y: {"w": d * p["w"]})


def test_a_one_parameter_model_takes_one_product():
    view, batch = adapt(wrapped_quadratic(np.array([3.0]), np.array([0.7])), DUMMY)
    lam, calls = curvature(view, batch, seed=0, eps=None)
    assert lam == pytest.approx(3.0, rel=1e-8) and calls == 2


def test_a_zero_hessian_gives_zero_after_one_product():
    c = np.arange(1.0, 6.0)
    model = gk.wrap({"w": np.ones(5)}, loss=lambda p, X, y: float(c @ p["w"]), grads=lambda p, X, y: {"w": c.copy()})
    view, batch = adapt(model, DUMMY)
    assert curvature(view, batch, seed=0, eps=None) == (0.0, 2)


def test_the_estimate_puts_the_baseline_back_bitwise():
    rng = np.random.default_rng(3)
    view, batch = adapt(wrapped_quadratic(rng.uniform(0.5, 2.0, 50), rng.normal(size=50)), DUMMY)
    before = view.params["w"].tobytes()
    lam, _ = curvature(view, batch, seed=0, eps=None)
    assert 1.9 < lam <= 2.0 and view.params["w"].tobytes() == before


class CastsWeightsEachCall:
    """Re-assigns its weights on every call (``self.W = self.W.astype(float)`` copies), as code that casts
    its parameters in ``forward`` does: the point ``θ ± h·v`` must be re-bound before each gradient call."""

    def __init__(self, d):
        self.d = d
        self.W = np.ones(len(d))

    def forward(self, X):
        self.W = self.W.astype(np.float64)
        return np.zeros((len(X), 2)) + 0.5 * float(self.W @ (self.d * self.W))

    def loss(self, X, y):
        return float(self.forward(X)[0, 0])

    def backward(self, X, y):
        self.forward(X)
        return {"W": self.d * self.W}


def test_a_model_that_rebinds_its_weights_each_call_still_gets_its_curvature():
    view, batch = adapt(CastsWeightsEachCall(np.linspace(0.1, 4.0, 30)), DUMMY)
    assert view.names == ("W",)
    lam, _ = curvature(view, batch, seed=0, eps=None)
    assert lam == pytest.approx(4.0, rel=2 * RTOL)


def test_the_estimate_holds_a_few_parameter_sized_vectors():
    # θ, the two Lanczos vectors, and one gradient call (the model's gradient and the kit's float64 copy):
    # five; ARPACK's eigsh took about thirty
    n = 200_000
    view, batch = adapt(wrapped_quadratic(np.linspace(-3.0, 2.0, n)), DUMMY)
    view.gradients(batch)
    np.random.default_rng(0).normal(size=1)  # the generator's one-off set-up is not the estimate's
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        lam, calls = curvature(view, batch, seed=0, eps=None)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert 2.0 * (1 - 2 * RTOL) <= lam <= 2.0 * (1 + 1e-9) and calls > 2
    assert peak <= 6 * n * 8, f"peak {peak / (n * 8):.1f}× the parameter bytes"
