"""The top Hessian eigenvalue behind exploding-learning-rate: quadratics whose spectrum is known, the memory
it takes (no copy of the parameters: the moves that give them back bitwise), and the model's parameters as
they were afterwards."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.checks.evidence import curvature
from gradcheck_kit.measure.measurement import Measurement
from gradcheck_kit.model.adapt import adapt
from gradcheck_kit.numeric import axpy
from gradcheck_kit.numeric.curvature import RTOL, top_eigenvalue
from gradcheck_kit.numeric.moves import CHUNK, CentralMove
from tests import models

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
    scale = max(1.0, math.sqrt(float(theta @ theta) / theta.size))
    return top_eigenvalue(difference, theta.size, scale=scale, rng=np.random.default_rng(1), **kw)


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

    lam, calls = top_eigenvalue(difference, 5, rng=np.random.default_rng(0))
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
    # the two Lanczos vectors and one gradient call (the model's own array: read without a copy), no copy of
    # the parameters; a start of ones (a power of two) also has the entries a round trip loses saved, which
    # costs about a third of them. ARPACK's eigsh took about thirty.
    n = 200_000
    view, batch = adapt(wrapped_quadratic(np.linspace(-3.0, 2.0, n)), DUMMY)
    view.gradients(batch)
    np.random.default_rng(0).normal(size=1)  # the generator's one-off set-up is not the estimate's,
    axpy._temporary(np.dtype(np.float64))  # nor the thread's kept 1 MB temporary for updates (a fixed size)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        lam, calls = curvature(view, batch, seed=0, eps=None)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert 2.0 * (1 - 2 * RTOL) <= lam <= 2.0 * (1 + 1e-9) and calls > 2
    assert peak <= 3.5 * n * 8, f"peak {peak / (n * 8):.1f}× the parameter bytes"


def test_the_estimate_gives_bitwise_the_eigenvalue_of_points_computed_from_a_copy():
    # entries a round trip does not give back (powers of two, tiny ones, -0.0) are saved per move: every point,
    # and so λ and the calls, are bitwise what a copy of θ gives
    rng = np.random.default_rng(5)
    n = 2 * CHUNK + 7
    d = rng.uniform(-1.0, 3.0, n)
    theta = rng.normal(size=n)
    theta[::3], theta[1::7], theta[2::11] = 1.0, 1e-12, -0.0
    view, batch = adapt(wrapped_quadratic(d, theta.copy()), DUMMY)

    def difference(v, h, out):
        out += d * (theta + v * h)
        out -= d * (theta + v * -h)

    scale = max(1.0, math.sqrt(float(theta @ theta) / n))
    expected = top_eigenvalue(difference, n, scale=scale, rng=np.random.default_rng(2))
    assert curvature(view, batch, seed=0, eps=None) == expected
    assert view.params["w"].tobytes() == theta.tobytes()


def awkward_arrays(rng):
    """Arrays a move must give back bitwise: a long one (powers of two, a chunk of entries far smaller than
    their step, zeros of both signs, subnormal, non-finite and huge values), two that overlap, one in Fortran
    order and one float32."""
    flat = rng.normal(size=3 * CHUNK + 5)
    flat[:CHUNK] = 2.0 ** rng.integers(-3, 3, CHUNK)
    flat[CHUNK:2 * CHUNK] = 1e-30 * rng.normal(size=CHUNK)
    flat[2 * CHUNK:2 * CHUNK + 12] = [0.0, -0.0, 5e-324, -1e-300, 1e-20, np.nan, np.inf, -np.inf, 1e300, 1.0, 0.5,
                                      np.nextafter(1.0, 0.0)]
    buffer = rng.normal(size=30)
    return [flat, buffer[:20], buffer[10:], np.asfortranarray(rng.normal(size=(4, 5))),
            rng.normal(size=7).astype(np.float32)]


def moved(arrays):
    parts, offset = [], 0
    for a in arrays:
        parts.append(slice(offset, offset + a.size))
        offset += a.size
    return CentralMove(list(zip(arrays, parts, strict=True))), parts, offset


def test_a_central_move_reaches_both_points_and_gives_every_array_back_bitwise():
    rng = np.random.default_rng(4)
    arrays = awkward_arrays(rng)
    before = [a.tobytes() for a in arrays]
    originals = [a.copy() for a in arrays]
    move, parts, n = moved(arrays)
    h = 1e-5
    for _ in range(3):
        v = rng.normal(size=n)
        move.plus(v, h)
        for i in (0, 3):  # the long array (in place) and the Fortran-order one (from its saved copy)
            assert arrays[i].tobytes() == (originals[i] + (v[parts[i]] * h).reshape(arrays[i].shape)).tobytes()
        move.minus()
        for i in (0, 3):
            assert arrays[i].tobytes() == (originals[i] + (v[parts[i]] * -h).reshape(arrays[i].shape)).tobytes()
        move.back()
        assert [a.tobytes() for a in arrays] == before
    assert move.intact()
    arrays[0][-1] += 1.0  # written into between moves: the move cannot tell it from the baseline
    assert not move.intact()


def test_a_move_left_at_either_point_goes_back_bitwise():
    rng = np.random.default_rng(6)
    for stop in ("plus", "minus"):
        arrays = awkward_arrays(rng)
        before = [a.tobytes() for a in arrays]
        move, _, n = moved(arrays)
        move.plus(rng.normal(size=n), 1e-5)
        if stop == "minus":
            move.minus()
        move.back()
        assert [a.tobytes() for a in arrays] == before, stop


def test_a_central_move_holds_no_copy_of_the_arrays():
    rng = np.random.default_rng(7)
    arrays = [rng.normal(size=(512, 1024)), rng.normal(size=1024), rng.normal(size=(1024, 256))]
    n = sum(a.size for a in arrays)
    v = rng.normal(size=n)
    tracemalloc.start()
    try:
        move, _, _ = moved(arrays)
        move.plus(v, 1e-5)
        move.minus()
        move.back()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < n * 8 / 8, f"peak {peak / (n * 8):.2f}× the arrays' bytes"


class WritesIntoItsWeights:
    """Its gradient call adds to the weights from the third call on (a momentum step folded into backward):
    the side-effect probe, which calls it once, does not see it."""

    def __init__(self, d):
        self.d = d
        self.params = {"w": np.ones(len(d))}
        self.calls = 0

    def loss(self, X, y):
        return 0.5 * float(self.params["w"] @ (self.d * self.params["w"]))

    def backward(self, X, y):
        self.calls += 1
        g = self.d * self.params["w"]
        if self.calls >= 3:
            self.params["w"] -= 1e-3 * g
        return {"w": g}


def test_a_gradient_call_that_writes_into_the_weights_during_the_estimate_is_an_error():
    view, batch = adapt(WritesIntoItsWeights(np.linspace(0.1, 4.0, 30)), DUMMY)
    with pytest.raises(gk.ModelCallError, match="wrote into its parameters while the kit estimated"):
        curvature(view, batch, seed=0, eps=None)


def test_one_that_the_probe_saw_writing_gets_its_curvature_and_its_baseline_back():
    view, batch = adapt(WritesIntoItsWeights(np.linspace(0.1, 4.0, 30)), DUMMY)
    view.protect_params = True  # what measure() sets when the side-effect probe saw the parameters change
    before = view.params["w"].tobytes()
    lam, _ = curvature(view, batch, seed=0, eps=None)
    assert lam == pytest.approx(4.0, rel=2 * RTOL) and view.params["w"].tobytes() == before


class RaisesOnItsFifthGradient:
    def __init__(self, d):
        self.d = d
        self.params = {"w": np.random.default_rng(8).normal(size=len(d))}
        self.calls = 0

    def loss(self, X, y):
        return 0.5 * float(self.params["w"] @ (self.d * self.params["w"]))

    def backward(self, X, y):
        self.calls += 1
        if self.calls == 5:
            raise FloatingPointError("overflow in layer 2")
        return {"w": self.d * self.params["w"]}


def test_a_model_that_raises_during_the_estimate_gets_its_baseline_back_bitwise():
    view, batch = adapt(RaisesOnItsFifthGradient(np.linspace(0.1, 4.0, 30)), DUMMY)
    before = view.params["w"].tobytes()
    with pytest.raises(gk.ModelCallError, match="overflow in layer 2"):
        curvature(view, batch, seed=0, eps=None)
    assert view.params["w"].tobytes() == before


def traced_peak(action):
    action()  # one-off set-up (imports, caches) is not the run's
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_unstable_learning_rate_costs_no_more_peak_memory_than_the_gradient_check():
    # the estimate runs once no check left reads the analytic gradient, which is then released: its two
    # Lanczos vectors (two parameter sizes) take the room of that gradient and the float32 directions (1.5).
    # Both meet the model's own temporaries in a gradient call (this backward holds about 1.7 parameter
    # sizes at its peak). Measured: 6.7 parameter sizes with lr=50, 4.85 without (5.85 while the side-effect
    # probe took its own copy of the weights); 8.55 with lr=50 before the estimate was rewritten.
    sizes, B = (256, 320, 64, 10), 64
    model = models.MLP(sizes=sizes)
    X, y = models.data(B=B, D=256, K=10)
    P = sum(a.nbytes for a in model.params.values())
    A = B * sum(sizes) * 8  # one batch's activations, float64
    _, plain = traced_peak(lambda: gk.diagnose(model, (X, y), progress=False))
    report, unstable = traced_peak(lambda: gk.diagnose(model, (X, y), progress=False, lr=50.0))
    assert report.finding("exploding-learning-rate") is not None
    assert unstable <= plain + 2.0 * P, f"{(unstable - plain) / P:.2f} parameter sizes more with lr=50"
    assert max(plain, unstable) <= 5 * (P + A), f"peak {max(plain, unstable) / (P + A):.2f} × (P + A)"  # issue 14


def test_the_analytic_gradient_cannot_be_read_once_released():
    m = Measurement(analytic={"w": np.ones(3)})
    m.release_analytic()
    for read in (lambda: m.analytic["w"], lambda: "w" in m.analytic, lambda: list(m.analytic)):
        with pytest.raises(RuntimeError, match="registered with analytic=True"):
            read()
