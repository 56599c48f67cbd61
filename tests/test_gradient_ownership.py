"""The analytic gradient is the model's own array where nothing of the model's can reach it any more, and a
copy otherwise (`copies.kept_or_copied`): a backward that returns new arrays costs no parameter-sized copy,
and one that returns buffers it overwrites on its next call is still judged on the values it returned."""

from __future__ import annotations

import weakref

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.model import adapt
from gradcheck_kit.model.copies import kept_or_copied


def test_new_arrays_are_kept_as_they_are():
    returned = {"W": np.ones((3, 2)), "b": np.zeros(2)}
    ids = {k: id(v) for k, v in returned.items()}
    items = list(returned.items())
    del returned  # the caller's dict would count as a holder
    out = kept_or_copied(items)
    assert {k: id(v) for k, v in out.items()} == ids


class _Holder:
    def __init__(self):
        self.flat = np.arange(8.0)
        self.grads = {"W": np.ones((3, 2))}
        self.alias = np.ones(6)
        self.view_of_it = self.alias[:3]


HELD = {
    "a dict the model keeps": lambda h: h.grads["W"],
    "a view of the model's flat buffer": lambda h: h.flat[:4],
    "the base of a view the model keeps": lambda h: h.alias,
    "float32 (converted)": lambda h: np.ones(3, dtype=np.float32),
    "a list, not an array": lambda h: [1.0, 2.0],
}


@pytest.mark.parametrize("pick", HELD.values(), ids=HELD.keys())
def test_arrays_the_model_can_still_reach_are_copied(pick):
    holder = _Holder()
    value = pick(holder)
    out = kept_or_copied([("g", value)])
    assert out["g"].dtype == np.float64
    assert not np.shares_memory(out["g"], np.asarray(value)) or not isinstance(value, np.ndarray)
    np.testing.assert_array_equal(out["g"], np.asarray(value, dtype=np.float64))


def test_an_array_with_a_weak_reference_or_named_twice_is_copied():
    g = np.ones(3)
    watcher = weakref.ref(g)
    items = [("a", g)]
    del g
    assert kept_or_copied(items)["a"] is not watcher()
    shared = np.ones(2)
    out = kept_or_copied([("a", shared), ("b", shared)])
    assert out["a"] is not shared and out["b"] is not shared


class BufferedBackward:
    """Preallocated gradient buffers, filled in place by every backward call and returned (a common way to
    save allocations). The kit calls backward again at moved weights after taking the analytic gradient
    (side-effect probes, random directions): a gradient kept without a copy would change under it."""

    def __init__(self, bug=False):
        rng = np.random.default_rng(0)
        self.W1, self.W2 = rng.normal(size=(4, 5)) * 0.5, rng.normal(size=(5, 3)) * 0.5
        self.dW1, self.dW2 = np.zeros_like(self.W1), np.zeros_like(self.W2)
        self.bug = bug

    def _forward(self, X):
        h = np.tanh(X @ self.W1)
        z = h @ self.W2
        p = np.exp(z - z.max(1, keepdims=True))
        return h, p / p.sum(1, keepdims=True)

    def loss(self, X, y):
        return float(-np.log(self._forward(X)[1][np.arange(len(y)), y]).mean())

    def backward(self, X, y):
        h, p = self._forward(X)
        d = p.copy()
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        np.dot(h.T, d, out=self.dW2)
        dh = d @ self.W2.T
        np.dot(X.T, dh if self.bug else dh * (1 - h**2), out=self.dW1)
        return {"W1": self.dW1, "W2": self.dW2}


def _batch():
    rng = np.random.default_rng(1)
    return rng.normal(size=(10, 4)), np.arange(10) % 3


def test_the_gradient_taken_survives_the_models_next_backward_call():
    view, batch = adapt(BufferedBackward(), _batch())
    fresh = adapt(FreshBackward(), _batch())[0]
    for v in (view, fresh):
        first = v.gradients(batch)
        held = {k: g.copy() for k, g in first.items()}
        v.params["W1"] += 0.5  # moved weights, another batch: every entry of the next gradient differs
        v.gradients(batch.with_arrays(batch.X * 2.0, batch.y))
        for k, before in held.items():
            np.testing.assert_array_equal(first[k], before)


class FreshBackward(BufferedBackward):
    """The same network returning new arrays: kept without a copy (nothing of the model's holds them)."""

    def backward(self, X, y):
        return {k: g.copy() for k, g in super().backward(X, y).items()}


def test_new_arrays_from_the_models_backward_are_not_copied():
    returned = []

    class Spied(FreshBackward):
        def backward(self, X, y):
            out = super().backward(X, y)
            returned.append({k: id(g) for k, g in out.items()})
            return out

    view, batch = adapt(Spied(), _batch())
    grads = view.gradients(batch)
    assert {k: id(g) for k, g in grads.items()} == returned[-1]


def test_buffers_the_model_overwrites_are_judged_on_what_they_held():
    report = gk.diagnose(BufferedBackward(), _batch(), progress=False, lr=0.1)
    assert report.ok and not report.findings, report.findings
    buggy = gk.diagnose(BufferedBackward(bug=True), _batch(), progress=False)
    assert {t.param for t in buggy.tensors if t.verdict == "fail"} == {"W1"}
