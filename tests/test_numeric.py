"""The numeric engine on functions whose derivatives are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcheck_kit.model.naming import layer_of, order_layers
from gradcheck_kit.numeric.comparison import compare_tensor
from gradcheck_kit.numeric.differences import Estimate, Perturber, judge
from gradcheck_kit.numeric.sampling import choose_entries
from gradcheck_kit.numeric.steps import step_size
from gradcheck_kit.numeric.tolerance import Tolerance


def run(work, analytic, loss, **kw):
    options = dict(source_dtype=work.dtype, tolerance=Tolerance(), rng=np.random.default_rng(0),
                   max_entries=50, probes=2, exhaustive=False)
    options.update(kw)
    return compare_tensor("w", "w", work, analytic, loss, loss(), **options)


def test_smooth_function_passes_and_work_is_restored_bitwise():
    w = np.random.default_rng(1).normal(size=(4, 5))
    original = w.copy()
    t = run(w, np.cos(w), lambda: float(np.sum(np.sin(w))))
    assert t.verdict == "pass" and t.failed == 0
    assert t.max_rel_error < 1e-8
    assert w.tobytes() == original.tobytes()


def test_wrong_gradient_fails_with_its_worst_entry():
    w = np.random.default_rng(1).normal(size=(3, 3))
    analytic = 2 * w
    analytic[1, 2] *= -1
    t = run(w, analytic, lambda: float(np.sum(w**2)), max_entries=9)
    assert t.verdict == "fail"
    assert t.worst.index == (1, 2)
    assert t.worst.judgement.rel_error == pytest.approx(2.0)  # |a - (-a)| / |a|


def test_kink_is_inconclusive_not_failed():
    w = np.array([0.0, 1.0, -2.0])
    # |w| has a kink at 0; the analytic subgradient there is 0, central difference says 0 too, but a
    # kink-crossing step at w=0 of max(w, 0) gives 0.5
    loss = lambda: float(np.sum(np.maximum(w, 0)))  # noqa: E731
    t = run(w, (w > 0).astype(float), loss, probes=0)
    assert t.entries[0].status == "inconclusive"
    assert "non-differentiable" in t.entries[0].judgement.reason
    assert [e.status for e in t.entries[1:]] == ["pass", "pass"]
    assert t.verdict == "pass"


def test_a_kink_at_the_point_is_inconclusive_even_when_the_subgradient_is_outside_both_slopes():
    # relu(w) - 0.5 * relu(-w): slopes 1 (right) and 0.5 (left) at w = 0; the hand-written subgradient
    # (relu'(0) = 0 for both terms) is 0, outside both, as nested ReLUs at exact zeros produce
    w = np.array([0.0])

    def loss():
        return float(np.maximum(w[0], 0) - 0.5 * np.maximum(-w[0], 0))

    t = run(w, np.array([0.0]), loss, probes=0)
    assert t.entries[0].status == "inconclusive"
    assert "non-differentiable" in t.entries[0].judgement.reason


def test_a_real_error_next_to_a_kink_is_still_caught_by_a_smaller_step():
    w = np.array([0.0])
    h = step_size(w)

    def loss():  # a kink at w = h / 4: the step h crosses it, the step h / 16 does not
        return float(np.maximum(w[0] - h / 4, 0))

    wrong = run(w, np.array([0.5]), loss, probes=0)  # the true slope at 0 is 0
    assert wrong.entries[0].status == "fail"
    assert "smaller step" in wrong.entries[0].judgement.reason, wrong.entries[0].judgement
    right = run(w.copy(), np.array([0.0]), loss, probes=0)
    assert right.entries[0].status == "pass"


def test_many_kinks_in_one_random_direction_never_fail():
    # a direction over a bias whose units sit exactly at ReLU kinks, feeding a second ReLU layer
    rng = np.random.default_rng(3)
    b = np.zeros(6)
    W2 = rng.normal(size=(6, 4))

    def loss():
        return float(np.sum(np.maximum(np.maximum(b, 0) @ W2, 0)))

    t = run(b, np.zeros(6), loss, probes=8, max_entries=6)
    assert t.failed == 0, [p.judgement for p in t.probes]


def test_a_wrong_gradient_of_a_strongly_curved_smooth_loss_still_fails():
    # the one-sided slopes differ by h * curvature, far beyond rtol: that is curvature, not a kink
    w = np.array([0.3])

    def loss():
        return float(np.exp(40 * w[0]))

    t = run(w, np.array([0.25 * 40 * math.exp(12.0)]), loss, probes=0)
    assert t.entries[0].status == "fail", t.entries[0].judgement


def test_richardson_rescues_truncation_error_with_large_step():
    w = np.array([1.0])
    loss = lambda: float(np.exp(3 * w[0]))  # noqa: E731
    exact = 3 * math.exp(3.0)
    t = run(w, np.array([exact]), loss, eps=1e-3, probes=0)
    assert t.entries[0].status == "pass"
    assert "Richardson" in t.entries[0].judgement.reason


def test_judge_noise_floor_counts_as_agreement():
    est = Estimate.from_losses(1.0, 1.0 + 1e-16, 1.0 - 1e-16, 1e-6)
    j = judge(0.0, est, tolerance=Tolerance(), rtol=1e-6, dtype=np.dtype("float64"))
    assert j.status == "pass"


def test_judge_nonfinite_loss_is_inconclusive_and_nonfinite_analytic_fails():
    est = Estimate.from_losses(1.0, math.inf, 1.0, 1e-6)
    assert judge(1.0, est, tolerance=Tolerance(), rtol=1e-6, dtype=np.dtype("float64")).status == "inconclusive"
    est = Estimate.from_losses(1.0, 1.0, 1.0, 1e-6)
    assert judge(math.nan, est, tolerance=Tolerance(), rtol=1e-6, dtype=np.dtype("float64")).status == "fail"


def test_perturber_restores_even_when_loss_raises():
    w = np.arange(6.0).reshape(2, 3)
    original = w.copy()

    def loss():
        raise RuntimeError("user code")

    p = Perturber(w, loss)
    with pytest.raises(RuntimeError):
        p.entry(4, 1e-3)
    with pytest.raises(RuntimeError):
        p.direction(np.ones((2, 3)) / math.sqrt(6), 1e-3)
    assert w.tobytes() == original.tobytes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_float32_direction_moves_by_the_float64_product_of_step_and_direction(dtype):
    """The move is x ± fl64(h·u) (then in the tensor's dtype), as the projected gradient assumes; a float32
    product would be off by ~1e-8 relative, enough to fail a linear loss against rtol 1e-6."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 5)).astype(dtype)
    u = rng.random((4, 5), dtype=np.float32) * 2 - 1
    h = 6.0554544523933395e-06
    seen = []
    p = Perturber(w, lambda: seen.append(w.copy()) or 0.0)
    p.direction(u, h)
    product = u.astype(np.float64) * h
    np.testing.assert_array_equal(seen[0], (w.astype(np.float64) + product).astype(dtype)
                                  if dtype == np.float64 else w + product.astype(np.float32))
    np.testing.assert_array_equal(seen[1], (w.astype(np.float64) - product).astype(dtype)
                                  if dtype == np.float64 else w - product.astype(np.float32))


def test_step_size_scales_with_rms_and_dtype():
    assert step_size(np.zeros(3)) == pytest.approx(np.cbrt(np.finfo(np.float64).eps))
    assert step_size(np.full(3, 10.0)) == pytest.approx(10 * np.cbrt(np.finfo(np.float64).eps))
    assert step_size(np.zeros(3, dtype=np.float32)) == pytest.approx(np.cbrt(np.finfo(np.float32).eps))
    assert step_size(np.zeros(3), eps=1e-4) == 1e-4


def test_sampling_includes_largest_entries_and_is_bounded():
    a = np.zeros(1000)
    a[[17, 500, 999]] = [5.0, -9.0, 7.0]
    chosen = choose_entries(a, 9, np.random.default_rng(0))
    assert len(chosen) == 9 and len(set(chosen)) == 9
    assert list(chosen[:3]) == [500, 999, 17]
    assert list(choose_entries(a[:5], 9, np.random.default_rng(0))) == [0, 1, 2, 3, 4]


def test_tolerance_rule():
    tol = Tolerance()
    assert tol.rtol_for(np.dtype("float64")) == 1e-6
    assert tol.rtol_for(np.dtype("float32")) == 1e-3
    assert Tolerance(rtol=1e-3).rtol_for(np.dtype("float64")) == 1e-3
    assert tol.bound(1.0, 1.0, rtol=1e-6, noise=1e-9) == pytest.approx(1e-6 + 1e-9)
    assert Tolerance(atol=1e-3).bound(0.0, 0.0, rtol=1e-6, noise=1e-9) == 1e-3


@pytest.mark.parametrize(
    ("name", "layer"),
    [("output.W", "output"), ("enc.l1.W", "enc.l1"), ("W2", "2"), ("b2", "2"), ("W_hidden", "W_hidden"),
     ("bias", "bias"), ("Wxh", "Wxh"), ("W10", "10"), ("weights[1]", "1"), ("layers[2].W", "layers[2]"),
     ("weights_1_2", "2")],
)
def test_layer_of(name, layer):
    assert layer_of(name) == layer


def test_order_layers():
    assert order_layers(["W10", "b10", "W2", "b2", "W1"]) == ["1", "2", "10"]
    assert order_layers(["biases[0]", "biases[1]", "weights[0]", "weights[1]"]) == ["0", "1"]
    assert order_layers(["layers[4].W", "layers[0].W", "layers[2].b"]) == ["layers[0]", "layers[2]", "layers[4]"]
    # recurrent names group by the letter a weight leads to, only when every name is of that kind
    assert order_layers(["Wxh", "Whh", "Why", "bh", "by"]) == ["h", "y"]
    assert order_layers(["Wf", "bf", "Wi", "bi", "Wy", "by"]) == ["f", "i", "y"]
    assert order_layers(["Wxh", "W_out"]) == ["Wxh", "W_out"]
    assert order_layers(["hidden.W", "hidden.b", "output.W"]) == ["hidden", "output"]


@pytest.mark.parametrize(("names", "expected"), [
    (["W", "b"], {"W": "output", "b": "output"}),            # softmax regression: one layer, not two
    (["weight", "bias"], {"weight": "output", "bias": "output"}),
    (["theta", "b"], {"theta": "output", "b": "output"}),
    (["W", "W_out"], {"W": "W", "W_out": "W_out"}),            # two weights: no pair to group
    (["b", "bias"], {"b": "b", "bias": "bias"}),
    (["W1", "b1", "W", "b"], {"W1": "1", "b1": "1", "W": "W", "b": "b"}),  # not alone: each its own
])
def test_a_lone_weight_and_bias_are_one_layer(names, expected):
    from gradcheck_kit.model.naming import is_recurrent, layer_map

    assert layer_map(names) == expected
    assert not is_recurrent(names)  # one layer is a chain of one, not gates feeding each other through time


@pytest.mark.parametrize("with_nan", [False, True])
def test_the_largest_entries_found_block_by_block_are_the_largest(monkeypatch, with_nan):
    from gradcheck_kit.numeric import sampling

    monkeypatch.setattr(sampling, "BLOCKS_AT_ONCE", 3)  # maxima taken 3 blocks at a time, and a tail
    a = np.random.default_rng(5).normal(size=40 * sampling.BLOCK + 77)
    if with_nan:
        a[[5, 30_000]] = np.nan
    for k in (1, 4, 5):
        got = sampling._largest(a, k)
        key = np.where(np.isnan(a), np.inf, np.abs(a))
        assert set(got.tolist()) == set(np.argsort(-key)[:k].tolist())
    chosen = choose_entries(a, 15, np.random.default_rng(0))
    assert len(set(chosen.tolist())) == 15 and (not with_nan or {5, 30_000} <= set(chosen[:5].tolist()))
