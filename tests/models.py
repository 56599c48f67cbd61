"""Hand-written numpy networks used by the tests, each class named after its defect (or lack of one).

Conventions: ``z = a @ W + b`` with ``W`` of shape (fan_in, fan_out); softmax + mean cross-entropy.
"""

from __future__ import annotations

import itertools

import numpy as np

import gradcheck_kit as gk


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACTIVATIONS = {
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
}


class MLP:
    """Correct forward/backward object: ``params`` dict, ``forward``, ``loss``, ``backward``."""

    def __init__(self, sizes=(6, 8, 8, 3), activation="tanh", dtype=np.float64, seed=0, reg=0.0):
        rng = np.random.default_rng(seed)
        self.sizes = tuple(sizes)
        self.activation = activation
        self.reg = reg
        self.params = {}
        for i, (m, n) in enumerate(itertools.pairwise(sizes), start=1):
            self.params[f"W{i}"] = (rng.normal(size=(m, n)) / np.sqrt(m)).astype(dtype)
            self.params[f"b{i}"] = (0.1 * rng.normal(size=n)).astype(dtype)

    @property
    def depth(self):
        return len(self.sizes) - 1

    def _forward(self, X):
        f, _ = ACTIVATIONS[self.activation]
        acts, zs = [X], []
        a = X
        for i in range(1, self.depth + 1):
            z = a @ self.params[f"W{i}"] + self.params[f"b{i}"]
            zs.append(z)
            a = softmax(z) if i == self.depth else f(z)
            acts.append(a)
        return acts, zs

    def forward(self, X):
        return self._forward(X)[0][-1]

    def loss(self, X, y):
        p = self.forward(X)
        data = -np.mean(np.log(p[np.arange(len(y)), y]))
        return float(data + 0.5 * self.reg * sum(np.sum(self.params[f"W{i}"] ** 2) for i in range(1, self.depth + 1)))

    # Hooks the defect classes override -------------------------------------------------------
    def output_delta(self, p, t):
        return p - t

    def batch_scale(self, B):
        return 1.0 / B

    def activation_derivative(self, i, z, a):
        return ACTIVATIONS[self.activation][1](z, a)

    def weight_gradient(self, i, a_prev, delta):
        return a_prev.T @ delta

    def reg_gradient(self, i):
        return self.reg * self.params[f"W{i}"]

    def backward(self, X, y):
        acts, zs = self._forward(X)
        B = len(y)
        t = np.zeros_like(acts[-1])
        t[np.arange(B), y] = 1
        delta = self.output_delta(acts[-1], t) * self.batch_scale(B)
        grads = {}
        for i in range(self.depth, 0, -1):
            grads[f"W{i}"] = self.weight_gradient(i, acts[i - 1], delta) + self.reg_gradient(i)
            grads[f"b{i}"] = delta.sum(axis=0)
            if i > 1:
                delta = (delta @ self.params[f"W{i}"].T) * self.activation_derivative(i - 1, zs[i - 2], acts[i - 1])
        return grads


class GradientSignFlippedInOutputLayer(MLP):
    def weight_gradient(self, i, a_prev, delta):
        g = super().weight_gradient(i, a_prev, delta)
        return -g if i == self.depth else g


class ActivationDerivativeMissingInLayer2(MLP):
    """Layer 2's activation derivative is dropped from the delta it gets: W2/b2 (and layer 1) are wrong."""

    def activation_derivative(self, i, z, a):
        return np.ones_like(a) if i == 2 else super().activation_derivative(i, z, a)


class WeightGradientTransposedInLayer2(MLP):
    def weight_gradient(self, i, a_prev, delta):
        g = super().weight_gradient(i, a_prev, delta)
        return g.T if i == 2 else g


class RegularisationGradientForgotten(MLP):
    def reg_gradient(self, i):
        return np.zeros_like(self.params[f"W{i}"])


class SoftmaxDerivativeAppliedTwice(MLP):
    def output_delta(self, p, t):
        return (p - t) * p * (1 - p)


class GradientSummedNotAveraged(MLP):
    def batch_scale(self, B):
        return 1.0


class CS231nNet:
    """Correct CS231n-assignment style two-layer ReLU net with L2 regularisation."""

    def __init__(self, D=6, H=10, K=3, reg=0.05, seed=0, forget_reg_in_W1=False):
        rng = np.random.default_rng(seed)
        self.params = {"W1": rng.normal(size=(D, H)) * 0.5, "b1": 0.1 * rng.normal(size=H),
                       "W2": rng.normal(size=(H, K)) * 0.5, "b2": 0.1 * rng.normal(size=K)}
        self.reg = reg
        self.forget_reg_in_W1 = forget_reg_in_W1

    def loss(self, X, y=None):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        z1 = X @ W1 + b1
        h = np.maximum(z1, 0)
        scores = h @ W2 + b2
        if y is None:
            return scores
        p = softmax(scores)
        B = len(y)
        loss = -np.mean(np.log(p[np.arange(B), y])) + 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
        d = p.copy()
        d[np.arange(B), y] -= 1
        d /= B
        grads = {"W2": h.T @ d + self.reg * W2, "b2": d.sum(0)}
        dh = (d @ W2.T) * (z1 > 0)
        grads["W1"] = X.T @ dh + (0 if self.forget_reg_in_W1 else self.reg * W1)
        grads["b1"] = dh.sum(0)
        return loss, grads


class SelfTrainingNet:
    """The question's shape: weights as attributes, ``forward`` and ``train(X, y, lr)``, no loss method."""

    def __init__(self, D=6, H=8, K=3, seed=0, doubled_softmax=False):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(size=(D, H)) / np.sqrt(D)
        self.b1 = np.zeros(H)
        self.W2 = rng.normal(size=(H, K)) / np.sqrt(H)
        self.b2 = np.zeros(K)
        self.doubled_softmax = doubled_softmax

    def forward(self, X):
        self.hidden = 1 / (1 + np.exp(-(X @ self.W1 + self.b1)))
        self.output = softmax(self.hidden @ self.W2 + self.b2)
        return self.output

    def train(self, X, y, lr):
        o = self.forward(X)
        t = np.eye(o.shape[1])[y]
        delta = o - t
        if self.doubled_softmax:
            delta = delta * o * (1 - o)
        delta /= len(X)
        dh = (delta @ self.W2.T) * self.hidden * (1 - self.hidden)
        self.W2 -= lr * self.hidden.T @ delta
        self.b2 -= lr * delta.sum(0)
        self.W1 -= lr * X.T @ dh
        self.b1 -= lr * dh.sum(0)


def data(B=16, D=6, K=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, D)), rng.integers(0, K, size=B)


class SoftmaxJacobianAppliedTwice(MLP):
    """Output delta J_softmaxᵀ(p − t): the full-Jacobian form of applying the softmax derivative again."""

    def output_delta(self, p, t):
        d = p - t
        return p * (d - np.sum(d * p, axis=1, keepdims=True))


class NoBiasMLP(MLP):
    """MLP without bias parameters (so the output-bias evidence is unavailable)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        for k in [k for k in self.params if k.startswith("b")]:
            self.params[k] = np.zeros_like(self.params[k])
        self.biases = {k: self.params.pop(k) for k in [k for k in self.params if k.startswith("b")]}

    def _forward(self, X):
        self.params.update(self.biases)
        try:
            return super()._forward(X)
        finally:
            for k in self.biases:
                self.params.pop(k)

    def backward(self, X, y):
        g = super().backward(X, y)
        return {k: v for k, v in g.items() if not k.startswith("b")}


class NoBiasSoftmaxJacobianAppliedTwice(NoBiasMLP):
    output_delta = SoftmaxJacobianAppliedTwice.output_delta


class GradientDoubledInLayer2(MLP):
    """A stray factor 2 on W2's gradient (e.g. a forgotten ½ of a squared term)."""

    def weight_gradient(self, i, a_prev, delta):
        g = super().weight_gradient(i, a_prev, delta)
        return 2 * g if i == 2 else g


class BiasGradientNeverComputed(MLP):
    def backward(self, X, y):
        g = super().backward(X, y)
        g["b3"] = np.zeros_like(g["b3"])
        return g


class SummedLoss(MLP):
    """Correct gradients of a loss that is a sum over the batch (not a bug, but lr depends on B)."""

    def loss(self, X, y):
        return len(y) * super().loss(X, y)

    def batch_scale(self, B):
        return 1.0


def clusters(B=64, D=6, K=3, seed=1, spread=0.5):
    """Learnable data: K Gaussian clusters with unit-scale centres, classes interleaved."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(K, D)) * 2
    y = np.arange(B) % K
    rng.shuffle(y)
    return centres[y] + spread * rng.normal(size=(B, D)), y


class SlowMLP(MLP):
    """Correct, but each loss takes 2 ms: an exhaustive check of it lasts long enough to be interrupted."""

    def loss(self, X, y):
        import time

        time.sleep(0.002)
        return super().loss(X, y)


def as_functions(mlp: MLP, *, predict: bool = True):
    """The same network as functions of a params dict, wrapped for the kit (with or without predict=)."""

    def loss_fn(p, X, y):
        mlp.params = p
        return mlp.loss(X, y)

    def grads_fn(p, X, y):
        mlp.params = p
        return mlp.backward(X, y)

    def predict_fn(p, X):
        mlp.params = p
        return mlp.forward(X)

    return gk.wrap(params=dict(mlp.params), loss=loss_fn, grads=grads_fn, predict=predict_fn if predict else None)


class MisbehavesAtCall(MLP):
    """A correct MLP whose subclasses misbehave on one call: `reached` counts a call and says whether it is
    the ``k``-th."""

    def __init__(self, k, **kw):
        super().__init__(**kw)
        self.k, self.n = k, 0

    def reached(self) -> bool:
        self.n += 1
        return self.n == self.k


class ExitsInBackward(MLP):
    """Hostile: its backward ends the process with sys.exit(0), which must never read as a pass."""

    def backward(self, X, y):
        import sys

        sys.exit(0)
