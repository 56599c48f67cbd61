"""The benchmark's networks: numpy tanh MLPs with softmax + mean cross-entropy, optionally with a seeded bug.

``bug``: ``None`` (correct), ``"batch-sum"`` (the gradient is the batch sum of a mean loss) or
``"doubled-softmax"`` (the output delta is (o − t)·o·(1 − o)); ``dtype``: of the parameters.
"""

from __future__ import annotations

import itertools

import numpy as np

SIZES = {
    "small": (20, 16, 3),
    "medium": (64, 128, 64, 10),
    "big": (784, 256, 128, 10),
}
BATCH = 64


class MLP:
    """Forward/backward object: ``params`` dict, ``forward``, ``loss``, ``backward``."""

    def __init__(self, sizes: tuple[int, ...], *, bug: str | None = None, seed: int = 0,
                 dtype: type = np.float64) -> None:
        rng = np.random.default_rng(seed)
        self.bug = bug
        self.params: dict[str, np.ndarray] = {}
        for i, (m, n) in enumerate(itertools.pairwise(sizes), start=1):
            self.params[f"W{i}"] = (rng.normal(size=(m, n)) / np.sqrt(m)).astype(dtype, copy=False)
            self.params[f"b{i}"] = (0.01 * rng.normal(size=n)).astype(dtype, copy=False)
        self.depth = len(sizes) - 1

    def _forward(self, X: np.ndarray) -> list[np.ndarray]:
        acts = [X]
        for i in range(1, self.depth + 1):
            z = acts[-1] @ self.params[f"W{i}"] + self.params[f"b{i}"]
            if i < self.depth:
                acts.append(np.tanh(z))
            else:
                e = np.exp(z - z.max(axis=1, keepdims=True))
                acts.append(e / e.sum(axis=1, keepdims=True))
        return acts

    def forward(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X)[-1]

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        p = self.forward(X)
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))

    def backward(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        acts = self._forward(X)
        p = acts[-1]
        B = len(y)
        t = np.zeros_like(p)
        t[np.arange(B), y] = 1
        delta = p - t
        if self.bug == "doubled-softmax":
            delta = delta * p * (1 - p)
        if self.bug != "batch-sum":
            delta = delta / B
        grads = {}
        for i in range(self.depth, 0, -1):
            grads[f"W{i}"] = acts[i - 1].T @ delta
            grads[f"b{i}"] = delta.sum(axis=0)
            if i > 1:
                delta = (delta @ self.params[f"W{i}"].T) * (1 - acts[i - 1] ** 2)
        return grads


def batch(sizes: tuple[int, ...], seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, sizes[0])), rng.integers(0, sizes[-1], size=BATCH)


def n_params(sizes: tuple[int, ...]) -> int:
    return sum(m * n + n for m, n in itertools.pairwise(sizes))
