"""A first check: a small hand-written softmax network whose backward pass has the classic bug.

The output delta is computed as dE/do · do/dz — (o − t) multiplied by the softmax derivative
o·(1 − o) — although for softmax with cross-entropy the correct delta is simply (o − t).

Run:  python examples/first_check.py
"""

from __future__ import annotations

import numpy as np

import gradcheck_kit as gk


class SoftmaxNet:
    """Two-layer sigmoid/softmax classifier with hand-written forward and backward passes."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, *, seed: int = 0, fixed: bool = False) -> None:
        rng = np.random.default_rng(seed)
        self.params = {
            "hidden.W": rng.normal(scale=n_in**-0.5, size=(n_in, n_hidden)),
            "hidden.b": np.zeros(n_hidden),
            "output.W": rng.normal(scale=n_hidden**-0.5, size=(n_hidden, n_out)),
            "output.b": np.zeros(n_out),
        }
        self.fixed = fixed

    def forward(self, X: np.ndarray) -> np.ndarray:
        p = self.params
        self.h = 1 / (1 + np.exp(-(X @ p["hidden.W"] + p["hidden.b"])))
        z = self.h @ p["output.W"] + p["output.b"]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        o = self.forward(X)
        return float(-np.mean(np.log(o[np.arange(len(y)), y])))

    def backward(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        o = self.forward(X)
        t = np.eye(o.shape[1])[y]
        delta = o - t if self.fixed else (o - t) * o * (1 - o)  # the bug: softmax derivative applied again
        delta /= len(X)
        dh = (delta @ self.params["output.W"].T) * self.h * (1 - self.h)
        return {"output.W": self.h.T @ delta, "output.b": delta.sum(0), "hidden.W": X.T @ dh, "hidden.b": dh.sum(0)}


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 8))
    y = rng.integers(0, 4, size=32)
    print("The buggy network:")
    gk.diagnose(SoftmaxNet(8, 16, 4), (X, y)).print()
    print("\nThe fixed network (delta = o - t):")
    gk.diagnose(SoftmaxNet(8, 16, 4, fixed=True), (X, y)).print()


if __name__ == "__main__":
    main()
