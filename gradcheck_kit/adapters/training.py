"""View of a self-training object: it updates its own weights in place and returns no gradient.

The gradient is inferred on the private copy as ``(before - after) / lr`` from one call of
``train(X, y, lr)`` (or ``step``/``update``), then the weights are put back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .objects import _ObjectLossMixin
from .view import INFERENCE_LR, ModelView

__all__ = ["TrainingView"]


class TrainingView(_ObjectLossMixin, ModelView):
    """``forward(X)`` plus ``train(X, y, lr)`` that updates the weights in place."""

    style = "self-training object"

    def __init__(self, *args: Any, predict_method: str | None, loss_method: str | None,
                 train_method: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.predict_method = predict_method
        self.loss_method = loss_method
        self.train_method: str | None = train_method
        self.inference_lr = INFERENCE_LR

    def _gradients(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        return self.inferred_gradients(X, y, self.inference_lr)
