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
                 dropout=0.0, seed=0):
        rng = np.random.default_rng(seed)
        dtype = np.float32 if upcast else np.float64
        self.W1, self.b1 = (0.1 * rng.standard_normal((D, H))).astype(dtype), np.zeros(H, dtype)
        self.W2, self.b2 = (0.1 * rng.standard_normal((H, C))).astype(dtype), np.zeros(C, dtype)
        if dead:  # every hidden unit below zero on every example, as after one too-large step
            self.b1 -= 50.0
        self.forgets_relu_mask, self.upcast, self.inplace, self.step = forgets_relu_mask, upcast, inplace, step
        self.dropout = dropout  # inverted dropout, its masks drawn from numpy's global generator
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
        if self.dropout:
            self.mask = (np.random.rand(*self.h.shape) > self.dropout) / (1 - self.dropout)
            self.h = self.h * self.mask
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
        if self.dropout:
            dh = dh * self.mask
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


VARIANTS = [{}, {"upcast": True}, {"inplace": True}, {"step": 0.01}, {"step": 0.1, "dropout": 0.2}]


@pytest.mark.parametrize("ran_first", [False, True], ids=["fresh", "after-users-backward"])
@pytest.mark.parametrize("variant", VARIANTS, ids=["plain", "upcast", "inplace", "steps-in-backward",
                                                  "steps-with-global-rng-dropout"])
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


class SelfSteppingRegression:
    """A linear layer with squared error that updates itself in backward (W -= lr * dW, as layer-object
    tutorials do); ``doubled`` is a dW twice too large, which with lr·curvature near one turns a nudge to W
    around in the step."""

    def __init__(self, lr, doubled=False, seed=0):
        rng = np.random.default_rng(seed)
        self.W, self.b, self.lr, self.doubled = 0.1 * rng.standard_normal((5, 2)), np.zeros(2), lr, doubled

    def forward(self, X, y):
        self.X, self.y = X, y
        self.out = X @ self.W + self.b
        return 0.5 * np.mean(np.sum((self.out - y) ** 2, axis=1))

    def backward(self):
        d = (self.out - self.y) / len(self.y)
        self.dW, self.db = (2 if self.doubled else 1) * self.X.T @ d, d.sum(axis=0)
        self.W -= self.lr * self.dW
        self.b -= self.lr * self.db


@pytest.mark.parametrize("lr", [0.1, 0.5])
def test_a_layer_stepping_itself_keeps_its_weights_checked_at_any_step_size(lr):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 5))
    Y = X @ rng.standard_normal((5, 2)) + 0.1 * rng.standard_normal((64, 2))
    correct = gk.diagnose(SelfSteppingRegression(lr), (X, Y), progress=False)
    assert correct.ok and sorted(t.param for t in correct.tensors) == ["W", "b"], correct
    buggy = gk.diagnose(SelfSteppingRegression(lr, doubled=True), (X, Y), progress=False)
    assert not buggy.ok and {t.param for t in buggy.tensors if t.verdict == "fail"} == {"W"}, buggy


class _Cell:
    def forward(self, x, h_prev, Wx, Wh, b):
        self.x, self.h_prev = x, h_prev  # x is X[:, t, :], a strided view of the batch
        self.h = np.tanh(x @ Wx + h_prev @ Wh + b)
        return self.h


class UnrolledRNN:
    """One cell object per time step caching its input beside the input gradient it stores in backward."""

    def __init__(self, D=3, H=5, C=3, T=4, seed=3):
        rng = np.random.default_rng(seed)
        self.Wx, self.Wh = 0.3 * rng.standard_normal((D, H)), 0.3 * rng.standard_normal((H, H))
        self.b, self.Wy, self.by = np.zeros(H), 0.3 * rng.standard_normal((H, C)), np.zeros(C)
        self.H, self.T = H, T
        self.cells = [_Cell() for _ in range(T)]

    def forward(self, X, y):
        X = np.asarray(X, dtype=float).reshape(len(X), self.T, -1)
        h = np.zeros((len(X), self.H))
        for t, cell in enumerate(self.cells):
            h = cell.forward(X[:, t, :], h, self.Wx, self.Wh, self.b)
        s = h @ self.Wy + self.by
        e = np.exp(s - s.max(axis=1, keepdims=True))
        self.p, self.y, self.hT = e / e.sum(axis=1, keepdims=True), y, h
        return -np.mean(np.log(self.p[np.arange(len(y)), y]))

    def backward(self):
        d = self.p.copy()
        d[np.arange(len(self.y)), self.y] -= 1
        d /= len(self.y)
        self.dWy, self.dby = self.hT.T @ d, d.sum(axis=0)
        dh = d @ self.Wy.T
        self.dWx, self.dWh, self.db = np.zeros_like(self.Wx), np.zeros_like(self.Wh), np.zeros_like(self.b)
        for cell in reversed(self.cells):
            dz = dh * (1 - cell.h**2)
            self.dWx += cell.x.T @ dz
            self.dWh += cell.h_prev.T @ dz
            self.db += dz.sum(axis=0)
            cell.dx = dz @ self.Wx.T
            cell.dh_prev = dh = dz @ self.Wh.T


def test_strided_caches_beside_their_gradients_are_not_parameters():
    """After the user's own forward/backward each cell keeps x (a strided view of the batch) beside dx and h_prev
    beside dh_prev: caches, which the kit read as parameters (a gradient-mismatch on a correct RNN)."""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((32, 12)), rng.integers(0, 3, 32)
    model = UnrolledRNN()
    model.forward(X, y)
    model.backward()
    report = gk.diagnose(model, (X, y), progress=False)
    assert sorted(t.param for t in report.tensors) == ["Wh", "Wx", "Wy", "b", "by"], report
    assert report.ok, report
