"""Layer by layer: a layered numpy network whose sigmoid layer forgets its own derivative in backward.

Run:  python examples/layer_by_layer.py
"""

from __future__ import annotations

import numpy as np

import gradcheck_kit as gk


class Dense:
    def __init__(self, n_in: int, n_out: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.W = rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)
        self.b = np.zeros(n_out)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.W.T


class Sigmoid:
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.s = 1 / (1 + np.exp(-x))
        return self.s

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout  # the bug: should be dout * self.s * (1 - self.s)


class SoftmaxCrossEntropy:
    def forward(self, z: np.ndarray, y: np.ndarray) -> float:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.p, self.y = e / e.sum(axis=1, keepdims=True), y
        return float(-np.mean(np.log(self.p[np.arange(len(y)), y])))

    def backward(self) -> np.ndarray:
        d = self.p.copy()
        d[np.arange(len(self.y)), self.y] -= 1
        return d / len(self.y)


def main() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 6)), rng.integers(0, 3, size=32)
    network = [Dense(6, 8, seed=1), Sigmoid(), Dense(8, 3, seed=2), SoftmaxCrossEntropy()]
    gk.diagnose(network, (X, y)).print()


if __name__ == "__main__":
    main()
