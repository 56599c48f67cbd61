"""The model's outputs at the baseline, read as softmax probabilities, logits and targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.batch import Batch
from ..model.view import ModelView
from ..numeric.losses import cross_entropy, is_probabilities, softmax

__all__ = ["Outputs", "read_outputs"]


@dataclass(frozen=True)
class Outputs:
    """Baseline outputs of a classifier.

    Attributes
    ----------
    raw
        What the model returned, (B, K).
    probabilities
        Softmax probabilities (B, K): ``raw`` itself, or ``softmax(raw)`` when ``raw`` are scores.
    are_scores
        True when ``raw`` are logits (CS231n style), so they are exact logits.
    targets
        One-hot (or given soft) targets (B, K).
    """

    raw: np.ndarray
    probabilities: np.ndarray
    are_scores: bool
    targets: np.ndarray

    @property
    def n_classes(self) -> int:
        """Classes the outputs score: K, or 2 for one sigmoid (or logit) output."""
        return max(2, int(self.raw.shape[1]))

    def probs_of(self, raw: np.ndarray) -> np.ndarray:
        """Class probabilities (B, n_classes); one output column is P(class 1), beside 1 − it."""
        if raw.shape[1] == 1:
            with np.errstate(over="ignore"):
                p = raw if np.all((raw >= 0) & (raw <= 1)) else 1 / (1 + np.exp(-raw))
            return np.hstack([1 - p, p])
        return softmax(raw) if self.are_scores else raw

    def logits_of(self, raw: np.ndarray) -> np.ndarray:
        """Exact logits for scores; ``log p`` (logits up to a per-row constant) for probabilities."""
        if self.are_scores:
            return raw
        with np.errstate(divide="ignore"):
            return np.log(np.clip(raw, 1e-300, None))

    def mean_cross_entropy(self, raw: np.ndarray) -> float:
        return cross_entropy(raw, self.targets, probabilities=not self.are_scores)


def read_outputs(view: ModelView, batch: Batch) -> Outputs | None:
    """Outputs at the current parameters as (B, K) rows, or ``None`` if the model has no prediction or it
    is not finite. Targets are (B, K) rows: one-hot for class labels with K >= 2 outputs, the given
    values otherwise (one sigmoid or linear output, multi-label, regression)."""
    if not view.can_predict:
        return None
    raw = view.predict(batch)
    if not np.all(np.isfinite(raw)):
        return None
    K = raw.shape[1]
    rows = batch.target_rows
    if rows.ndim == 1 and K >= 2 and rows.dtype.kind in "iub":
        targets = batch.one_hot(K)
    else:
        targets = np.asarray(rows, dtype=np.float64).reshape(batch.size, -1)
        if targets.shape[1] != K:
            return None
    probabilities_given = is_probabilities(raw)
    probabilities = raw if probabilities_given or K < 2 else softmax(raw)
    return Outputs(raw=raw, probabilities=probabilities, are_scores=not probabilities_given and K >= 2,
                   targets=targets)
