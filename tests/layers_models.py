"""Layered networks as users write them: layer classes (numpy-ml / CS231n shape) and CS231n function pairs."""

from __future__ import annotations

import numpy as np


class Dense:
    """numpy-ml style: ``parameters`` and ``gradients`` dicts."""

    def __init__(self, n_in, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.parameters = {"W": rng.normal(size=(n_in, n_out)) / np.sqrt(n_in), "b": 0.1 * rng.normal(size=n_out)}
        self.gradients = {}

    def forward(self, x):
        self.x = x
        return x @ self.parameters["W"] + self.parameters["b"]

    def backward(self, dout):
        self.gradients = {"W": self.x.T @ dout, "b": dout.sum(0)}
        return dout @ self.parameters["W"].T


class Affine:
    """CS231n-class style: attributes W, b and dW, db after backward."""

    def __init__(self, n_in, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.W = rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)
        self.b = 0.1 * rng.normal(size=n_out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(0)
        return dout @ self.W.T


class ReLU:
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class Sigmoid:
    def forward(self, x):
        self.s = 1 / (1 + np.exp(-x))
        return self.s

    def backward(self, dout):
        return dout * self.s * (1 - self.s)


class SigmoidBackwardMissingDerivative(Sigmoid):
    def backward(self, dout):
        return dout


class Tanh:
    def forward(self, x):
        self.t = np.tanh(x)
        return self.t

    def backward(self, dout):
        return dout * (1 - self.t**2)


class Softmax:
    def forward(self, x):
        e = np.exp(x - x.max(1, keepdims=True))
        self.p = e / e.sum(1, keepdims=True)
        return self.p

    def backward(self, dout):
        return self.p * (dout - np.sum(dout * self.p, axis=1, keepdims=True))


class SoftmaxBackwardElementwise(Softmax):
    """A wrong softmax backward: only the diagonal of the Jacobian, dout * p * (1 - p)."""

    def backward(self, dout):
        return dout * self.p * (1 - self.p)


class CrossEntropy:
    """Mean cross-entropy of probabilities; backward w.r.t. its own input: -t / (B p)."""

    def forward(self, p, y):
        self.p, self.y = p, y
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))

    def backward(self):
        d = np.zeros_like(self.p)
        B = len(self.y)
        d[np.arange(B), self.y] = -1 / (B * self.p[np.arange(B), self.y])
        return d


class CrossEntropyReturnsLogitGradient(CrossEntropy):
    """The question's bug in layers: returns (p - t) / B although a Softmax layer before it applies its own
    derivative again."""

    def backward(self):
        t = np.eye(self.p.shape[1])[self.y]
        return (self.p - t) / len(self.y)


class SoftmaxCrossEntropy:
    """Softmax and mean cross-entropy in one layer; backward (p - t) / B w.r.t. the logits."""

    def forward(self, z, y):
        e = np.exp(z - z.max(1, keepdims=True))
        self.p, self.y = e / e.sum(1, keepdims=True), y
        return float(-np.mean(np.log(self.p[np.arange(len(y)), y])))

    def backward(self):
        t = np.eye(self.p.shape[1])[self.y]
        return (self.p - t) / len(self.y)


# CS231n function pairs ---------------------------------------------------------------------------
def affine_forward(x, w, b):
    return x @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, x.T @ dout, dout.sum(0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def relu_backward_wrong(dout, cache):
    return dout * (cache >= 0) * cache  # multiplies by the input instead of the indicator


def softmax_loss(x, y):
    e = np.exp(x - x.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    B = len(y)
    loss = -np.mean(np.log(p[np.arange(B), y]))
    dx = p.copy()
    dx[np.arange(B), y] -= 1
    return loss, dx / B
