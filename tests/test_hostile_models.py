"""Models that misbehave in ways no one planned for: the report names what is wrong instead of blaming a
layer's gradient, and the user's arrays are bitwise unchanged (and the same objects) afterwards."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from tests import models
from tests.conftest import assert_unchanged, snapshot
from tests.models import data


def run(model, **options):
    before = snapshot(model)
    state = np.random.get_state()
    try:
        return gk.diagnose(model, data(), **options)
    finally:
        assert_unchanged(model, before)
        after = np.random.get_state()
        assert np.array_equal(after[1], state[1]) and after[2:] == state[2:]


class DropoutLeftOn(models.MLP):
    """Dropout on the hidden layers in every call, drawn from numpy's global RNG as student code does."""

    def _forward(self, X):
        f, _ = models.ACTIVATIONS[self.activation]
        acts, zs, a = [X], [], X
        for i in range(1, self.depth + 1):
            z = a @ self.params[f"W{i}"] + self.params[f"b{i}"]
            zs.append(z)
            a = models.softmax(z) if i == self.depth else f(z) * (np.random.random(z.shape) > 0.5) / 0.5
            acts.append(a)
        return acts, zs


class NoisyLoss(models.MLP):
    def loss(self, X, y):
        return super().loss(X, y) + 1e-3 * np.random.default_rng().normal()


def test_random_forward_is_named_and_not_blamed_on_a_layer():
    report = run(NoisyLoss())  # fresh entropy on every call: nothing to pin
    assert "nondeterministic-forward" in report.codes()
    assert report.finding("nondeterministic-forward").evidence["spread"] > 0
    assert "gradient-mismatch" not in report.codes()


def test_dropout_from_numpys_global_generator_is_checked_for_one_mask():
    """With one mask pinned, the check sees what is really wrong: this backward ignores the mask."""
    report = run(DropoutLeftOn())
    assert "nondeterministic-forward" not in report.codes()
    assert any("global random generator" in n for n in report.notes)
    assert report.first_wrong_layer == "2" and "gradient-mismatch" in report.codes(), report


class NormalisesInPlace(models.MLP):
    def loss(self, X, y):
        X /= 2.0  # mutates the caller's array
        return super().loss(X * 2.0, y)

    def backward(self, X, y):
        return super().backward(X, y)


def test_mutating_the_input_is_named_and_the_check_still_holds():
    report = run(NormalisesInPlace())
    assert report.codes()[:1] == ["mutates-input"]
    assert "gradient-mismatch" not in report.codes()


class TrainsInsideLoss(models.MLP):
    def loss(self, X, y):
        value = super().loss(X, y)
        for k, g in super().backward(X, y).items():
            self.params[k] -= 0.01 * g
        return value


def test_a_loss_that_moves_the_weights_is_named():
    report = run(TrainsInsideLoss())
    f = report.finding("mutates-parameters")
    assert f is not None and "W1" in f.evidence["params"]
    assert "gradient-mismatch" not in report.codes()


class StaleCacheBackward(models.MLP):
    """backward(X, y) ignores X and uses the activations of the last forward call."""

    def forward(self, X):
        self.cache = self._forward(X)
        return self.cache[0][-1]

    def loss(self, X, y):
        p = self.forward(X)
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))

    def _forward_cached(self, X):
        return self.cache

    def backward(self, X, y):
        real = self._forward
        self._forward = self._forward_cached
        try:
            return super().backward(X, y)
        finally:
            self._forward = real


def test_stale_cached_backward_is_named_and_gradients_still_judged_right():
    report = run(StaleCacheBackward())
    assert "stateful-backward" in report.codes()
    assert "gradient-mismatch" not in report.codes()


class RaisesAt(models.MLP):
    def __init__(self, k, exc):
        super().__init__()
        self.k, self.n, self.exc = k, 0, exc

    def loss(self, X, y):
        self.n += 1
        if self.n == self.k:
            raise self.exc
        return super().loss(X, y)


@pytest.mark.parametrize("k", [1, 5, 40])
def test_user_code_raising_at_the_kth_call_names_the_call(k):
    model = RaisesAt(k, ZeroDivisionError("bad"))
    before = snapshot(model)
    with pytest.raises(gk.ModelCallError, match=r"RaisesAt\.loss\(\.\.\.\) raised ZeroDivisionError: bad \[call \d+ of "
                                                r"loss\]"):
        gk.diagnose(model, data())
    assert_unchanged(model, before)


class NaNAt(models.MisbehavesAtCall):
    def loss(self, X, y):
        return float("nan") if self.reached() else super().loss(X, y)


def test_nan_at_a_perturbed_point_is_inconclusive_not_a_failure():
    report = run(NaNAt(30))
    assert report.ok, report
    reasons = {r for t in report.tensors for r in t.reasons}
    assert any("not finite" in r for r in reasons)


def test_nan_at_the_baseline_is_a_non_finite_finding():
    report = run(NaNAt(1 + 5 + 2))  # after the side-effect probes, the first baseline evaluation
    assert "non-finite" in report.codes() or report.ok


class WrongShapeLater(models.MLP):
    def __init__(self):
        super().__init__()
        self.n = 0

    def backward(self, X, y):
        self.n += 1
        g = super().backward(X, y)
        if self.n >= 2:
            g["W2"] = g["W2"][:, :3]
        return g


def test_wrong_shape_at_a_later_call_is_a_clear_error():
    model = WrongShapeLater()
    before = snapshot(model)
    with pytest.raises(gk.ModelInterfaceError, match=r"returned 'W2' with shape \(8, 3\); expected \(8, 8\)"):
        gk.diagnose(model, data())
    assert_unchanged(model, before)


class ListsEverywhere(models.MLP):
    def forward(self, X):
        return super().forward(X).tolist()

    def loss(self, X, y):
        p = self._forward(X)[0][-1]
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))

    def backward(self, X, y):
        return {k: v.tolist() for k, v in super().backward(X, y).items()}


def test_lists_instead_of_arrays_are_read_correctly():
    assert run(ListsEverywhere()).ok


class ComplexGradient(models.MLP):
    def backward(self, X, y):
        return {k: v.astype(complex) for k, v in super().backward(X, y).items()}


class ObjectGradient(models.MLP):
    def backward(self, X, y):
        g = super().backward(X, y)
        g["b1"] = np.array([object()] * 8)
        return g


@pytest.mark.parametrize("cls", [ComplexGradient, ObjectGradient])
def test_gradients_of_the_wrong_dtype_are_refused(cls):
    with pytest.raises(gk.ModelInterfaceError):
        run(cls())


class NaNInOneGradientEntry(models.MLP):
    """The loss is finite, but backward divides by zero in one entry of W2's gradient."""

    def backward(self, X, y):
        grads = super().backward(X, y)
        grads["W2"][0, 0] = np.nan
        return grads


def test_a_non_finite_gradient_is_one_finding_and_one_note():
    report = gk.diagnose(NaNInOneGradientEntry(), data(), lr=0.1)
    assert [f.layer for f in report.findings if f.code == "non-finite"] == ["2"]
    notes = [n for n in report.notes if "non-finite" in n]
    assert notes == ["the analytic gradient of W2 has 1 non-finite entry"]
