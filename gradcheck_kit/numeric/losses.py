"""Softmax and cross-entropy, for the kit's own loss and for checks that test hypotheses about it."""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["cross_entropy", "is_probabilities", "log_probabilities", "softmax"]


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (B, K) scores, computed stably."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def is_probabilities(outputs: np.ndarray, *, atol: float = 1e-6) -> bool:
    """Whether (B, K) outputs are already probability rows (non-negative, summing to one)."""
    if outputs.ndim != 2 or outputs.shape[1] < 2:
        return False
    return bool(np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1.0, atol=atol, rtol=0))


def log_probabilities(outputs: np.ndarray, *, probabilities: bool) -> np.ndarray:
    """Log-probabilities from probability rows or from raw scores (log-softmax)."""
    if probabilities:
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 → -inf; a negative output → nan, judged later
            return np.log(outputs)
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(
    outputs: np.ndarray,
    targets: np.ndarray,
    *,
    probabilities: bool,
    reduction: Literal["mean", "sum"] = "mean",
) -> float:
    """Cross-entropy of (B, K) outputs against (B, K) target rows, averaged or summed over the batch."""
    logp = log_probabilities(outputs, probabilities=probabilities)
    with np.errstate(invalid="ignore"):
        per_example = -np.sum(np.where(targets > 0, targets * logp, 0.0), axis=1)
    total = float(per_example.sum())
    return total / outputs.shape[0] if reduction == "mean" else total
