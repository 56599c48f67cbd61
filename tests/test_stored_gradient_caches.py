"""Arrays found through a gradient stored beside them (``dW1`` beside ``W1``, nnfs's ``dinputs`` beside
``inputs``) are parameters unless a forward call rewrites them and the outputs do not move with them: a
trained nnfs Model's cached softmax inputs are no parameter, while the weights of a layer whose ReLUs are all
dead (the outputs do not move with them either) still are, and are checked."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk


class CachingNet:
    """CS231n-flavoured object: forward(X, y) caches and returns the loss, backward() leaves dW1 … db2 on self.
    Variants from public code: weights kept in float32 and re-bound as float64 copies in forward
    (``upcast``), a cache written in place (``self.X[...] = X``), gradients written in place into buffers
    made once (``self.dW1[...] = ...``), and a backward that also steps the weights (``step``)."""

    def __init__(self, D=6, H=10, C=3, *, dead=False, forgets_relu_mask=False, upcast=False, inplace=False, step=0.0,
                 seed=0):
        rng = np.random.default_rng(seed)
        dtype = np.float32 if upcast else np.float64
        self.W1, self.b1 = (0.1 * rng.standard_normal((D, H))).astype(dtype), np.zeros(H, dtype)
        self.W2, self.b2 = (0.1 * rng.standard_normal((H, C))).astype(dtype), np.zeros(C, dtype)
        if dead:  # every hidden unit below zero on every example, as after one too-large step
            self.b1 -= 50.0
        self.forgets_relu_mask, self.upcast, self.inplace, self.step = forgets_relu_mask, upcast, inplace, step
        if inplace:
            self.dW1, self.db1, self.dW2, self.db2 = (np.zeros_like(a, dtype=np.float64)
                                                      for a in (self.W1, self.b1, self.W2, self.b2))

    def predict(self, X):
        return np.argmax(np.maximum(0, X @ self.W1 + self.b1) @ self.W2 + self.b2, axis=1)

    def predict_proba(self, X):
        s = np.maximum(0, X @ self.W1 + self.b1) @ self.W2 + self.b2
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def forward(self, X, y):
        if self.upcast:
            self.W1, self.b1, self.W2, self.b2 = (a.astype(np.float64) for a in (self.W1, self.b1, self.W2, self.b2))
        if self.inplace and getattr(self, "X", None) is not None and self.X.shape == X.shape:
            self.X[...] = X
        else:
            self.X = np.array(X, dtype=np.float64)
        self.y = y
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
        dh = ds @ self.W2.T
        if not self.forgets_relu_mask:
            dh = dh * (self.z1 > 0)
        grads = {"dW2": self.h.T @ ds, "db2": ds.sum(axis=0), "dW1": self.X.T @ dh, "db1": dh.sum(axis=0)}
        for name, g in grads.items():
            if self.inplace:
                getattr(self, name)[...] = g
            else:
                setattr(self, name, g)
        if self.inplace:
            self.dX = dh @ self.W1.T  # the input gradient too, beside the cached input
        for name in ("W1", "b1", "W2", "b2") if self.step else ():  # a layer that updates itself in backward
            getattr(self, name)[...] -= self.step * getattr(self, "d" + name)


@pytest.fixture
def batch():
    rng = np.random.default_rng(1)
    return rng.standard_normal((32, 6)), rng.integers(0, 3, 32)


VARIANTS = [{}, {"upcast": True}, {"inplace": True}, {"step": 0.01}]


@pytest.mark.parametrize("ran_first", [False, True], ids=["fresh", "after-users-backward"])
@pytest.mark.parametrize("variant", VARIANTS, ids=["plain", "upcast", "inplace", "steps-in-backward"])
@pytest.mark.parametrize("dead", [False, True], ids=["alive", "dead-relu-layer"])
def test_every_stored_gradient_tensor_is_checked_and_a_missing_relu_mask_is_caught(batch, dead, variant, ran_first):
    """Weights feeding a dead ReLU layer do not move the outputs, and re-bound or stepped weights change in
    the gradient call, yet they are parameters: all four tensors are checked, the correct net passes, and a
    backward without the ReLU mask fails on W1 and b1 — also when the user's own forward/backward last ran on
    this very batch (in-place gradients then equal the stored ones, in-place caches their old values)."""
    def net(**bug):
        model = CachingNet(dead=dead, **variant, **bug)
        if ran_first:
            model.forward(*batch)
            model.backward()
        return model

    correct = gk.diagnose(net(), batch, progress=False)
    assert sorted(t.param for t in correct.tensors) == ["W1", "W2", "b1", "b2"], correct
    assert all(t.verdict == "pass" for t in correct.tensors), correct
    buggy = gk.diagnose(net(forgets_relu_mask=True), batch, progress=False)
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
