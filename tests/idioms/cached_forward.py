"""A student's two-layer class, the most common shape of all: ``forward(X)`` keeps what it computed on
``self``; the loss is a separate ``compute_loss(probs, y)`` of forward's probabilities; ``backward(y)``
reads the cached values and returns a dict of gradients; ``train_step(X, y, lr)`` chains the three.

Weights are attributes (``self.W1`` ... ``self.b2``), ReLU hidden layer, softmax output, mean
cross-entropy. Buggy subclasses are listed in ``VARIANTS``.
"""

import numpy as np


class StudentNet:
    def __init__(self, input_size=5, hidden_size=10, num_classes=4, seed=0, std=0.1):
        rng = np.random.RandomState(seed)
        self.W1 = std * rng.randn(input_size, hidden_size)
        self.b1 = np.zeros(hidden_size)
        self.W2 = std * rng.randn(hidden_size, num_classes)
        self.b2 = np.zeros(num_classes)

    def forward(self, X):
        self.X = X
        self.z1 = X.dot(self.W1) + self.b1
        self.a1 = np.maximum(0, self.z1)
        self.scores = self.a1.dot(self.W2) + self.b2
        shifted = self.scores - np.max(self.scores, axis=1, keepdims=True)
        e = np.exp(shifted)
        self.probs = e / np.sum(e, axis=1, keepdims=True)
        return self.probs

    def compute_loss(self, probs, y):
        n = probs.shape[0]
        return -np.sum(np.log(probs[np.arange(n), y])) / n

    def output_delta(self, y):
        n = self.X.shape[0]
        d = self.probs.copy()
        d[np.arange(n), y] -= 1
        return d / n

    def relu_grad(self):
        return self.z1 > 0

    def backward(self, y):
        dscores = self.output_delta(y)
        grads = {"W2": self.a1.T.dot(dscores), "b2": np.sum(dscores, axis=0)}
        dz1 = dscores.dot(self.W2.T) * self.relu_grad()
        grads["W1"] = self.X.T.dot(dz1)
        grads["b1"] = np.sum(dz1, axis=0)
        return grads

    def train_step(self, X, y, lr=0.1):
        probs = self.forward(X)
        loss = self.compute_loss(probs, y)
        grads = self.backward(y)
        self.W1 -= lr * grads["W1"]
        self.b1 -= lr * grads["b1"]
        self.W2 -= lr * grads["W2"]
        self.b2 -= lr * grads["b2"]
        return loss


class ReluDerivativeMissing(StudentNet):
    def relu_grad(self):
        return 1.0


class SoftmaxDerivativeAgain(StudentNet):
    def output_delta(self, y):
        return super().output_delta(y) * self.probs * (1 - self.probs)


VARIANTS = {"relu-derivative-missing": ReluDerivativeMissing, "softmax-derivative-again": SoftmaxDerivativeAgain}


def make_data(n=20, seed=42):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)), rng.integers(0, 4, size=n)
