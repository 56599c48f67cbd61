"""Arrays found through a gradient stored beside them (``dW1`` beside ``W1``, nnfs's ``dinputs`` beside
``inputs``) are parameters unless a forward call rewrites them and the outputs do not move with them: a
trained nnfs Model's cached softmax inputs are no parameter, while the weights of a layer whose ReLUs are all
dead (the outputs do not move with them either) still are, and are checked."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk


class CachingNet:
    """CS231n-flavoured object: forward(X, y) caches and returns the loss, backward() leaves dW1 … db2 on self."""

    def __init__(self, D=6, H=10, C=3, *, dead=False, forgets_relu_mask=False, seed=0):
        rng = np.random.default_rng(seed)
        self.W1, self.b1 = 0.1 * rng.standard_normal((D, H)), np.zeros(H)
        self.W2, self.b2 = 0.1 * rng.standard_normal((H, C)), np.zeros(C)
        if dead:  # every hidden unit below zero on every example, as after one too-large step
            self.b1 -= 50.0
        self.forgets_relu_mask = forgets_relu_mask

    def predict(self, X):
        return np.argmax(np.maximum(0, X @ self.W1 + self.b1) @ self.W2 + self.b2, axis=1)

    def predict_proba(self, X):
        s = np.maximum(0, X @ self.W1 + self.b1) @ self.W2 + self.b2
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def forward(self, X, y):
        self.X, self.y = X, y
        self.z1 = X @ self.W1 + self.b1
        self.h = np.maximum(0, self.z1)
        s = self.h @ self.W2 + self.b2
        e = np.exp(s - s.max(axis=1, keepdims=True))
        self.p = e / e.sum(axis=1, keepdims=True)
        return -np.mean(np.log(self.p[np.arange(len(y)), y]))

    def backward(self):
        n = len(self.y)
        ds = self.p.copy()
        ds[np.arange(n), self.y] -= 1
        ds /= n
        self.dW2, self.db2 = self.h.T @ ds, ds.sum(axis=0)
        dh = ds @ self.W2.T
        if not self.forgets_relu_mask:
            dh = dh * (self.z1 > 0)
        self.dW1, self.db1 = self.X.T @ dh, dh.sum(axis=0)


@pytest.fixture
def batch():
    rng = np.random.default_rng(1)
    return rng.standard_normal((32, 6)), rng.integers(0, 3, 32)


@pytest.mark.parametrize("dead", [False, True])
def test_every_stored_gradient_tensor_is_checked_and_a_missing_relu_mask_is_caught(batch, dead):
    correct = gk.diagnose(CachingNet(dead=dead), batch, progress=False)
    assert sorted(t.param for t in correct.tensors) == ["W1", "W2", "b1", "b2"], correct
    assert all(t.verdict == "pass" for t in correct.tensors), correct
    buggy = gk.diagnose(CachingNet(dead=dead, forgets_relu_mask=True), batch, progress=False)
    failing = {t.param for t in buggy.tensors if t.verdict == "fail"}
    assert {"W1", "b1"} <= failing and not buggy.ok, buggy


def test_a_cache_that_forward_rebinds_is_no_parameter(batch):
    """The net after the user's own forward/backward on this very batch: it keeps X beside a dX (a layer that
    also stores its input gradient), which would make the cached X a parameter but for forward re-binding it;
    and its stored gradients are new arrays from the kit's call, though equal to the user's (not stale)."""

    class KeepsInputGradient(CachingNet):
        def backward(self):
            super().backward()
            self.dX = np.zeros_like(self.X)

    net = KeepsInputGradient()
    X, y = batch
    net.forward(X, y)
    net.backward()
    report = gk.diagnose(net, batch, progress=False)
    assert sorted(t.param for t in report.tensors) == ["W1", "W2", "b1", "b2"], report
    assert report.ok, report
