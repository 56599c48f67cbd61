"""View of a self-training object: it updates its own weights in place and returns no gradient.

The gradient is inferred on the private copy as ``(before - after) / lr`` from one call of
``train(X, y, lr)`` (or ``step``/``update``), then the weights are put back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from .objects import KitLoss, _PredictMixin
from .view import INFERENCE_LR, ModelView, as_loss_value

__all__ = ["TrainingView"]


class TrainingView(_PredictMixin, ModelView):
    """``forward(X)`` plus ``train(X, y, lr)`` that updates the weights in place."""

    style = "self-training object"

    def __init__(self, *args: Any, predict_method: str | None, loss_method: str | None,
                 train_method: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.predict_method = predict_method
        self.loss_method = loss_method
        self.train_method: str | None = train_method
        self.kit_loss: KitLoss | None = None
        self.targets: np.ndarray | None = None
        self.inference_lr = INFERENCE_LR

    def use_kit_loss(self, kit_loss: KitLoss, targets: np.ndarray) -> None:
        self.kit_loss, self.targets = kit_loss, targets

    def _loss(self, X: np.ndarray, y: np.ndarray) -> float:
        if self.loss_method is None:
            if self.kit_loss is None or self.targets is None:
                raise ModelInterfaceError(f"{self.label} has no loss(X, y) and no outputs to score")
            return self.kit_loss(self.predict(X), self.targets)
        value = self._call(self.loss_method, getattr(self.target, self.loss_method), X, y)
        return as_loss_value(value, f"{self.label}.{self.loss_method}(X, y)")

    def _gradients(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        return self.inferred_gradients(X, y, self.inference_lr)
