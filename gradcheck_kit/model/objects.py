"""Views of objects that compute their own gradient: forward/backward objects and CS231n-style models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from ..numeric.losses import cross_entropy, is_probabilities
from .view import ModelView, as_loss_value, match_gradients

__all__ = ["CS231nView", "KitLoss", "MethodView", "ObjectView", "unpack_gradients"]


class KitLoss:
    """Mean (or summed) cross-entropy of a model's outputs, used when the model has no loss of its own."""

    def __init__(self, outputs: np.ndarray, reduction: str = "mean") -> None:
        self.probabilities = is_probabilities(outputs)
        self.reduction = reduction

    def __call__(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        return cross_entropy(outputs, targets, probabilities=self.probabilities, reduction=self.reduction)  # type: ignore[arg-type]

    def describe(self, method: str) -> str:
        what = "probabilities" if self.probabilities else "scores (softmax applied by the kit)"
        return f"{self.reduction} cross-entropy of {method}()'s {what}"


class MethodView(ModelView):
    """A view that calls the object's own methods: ``forward``-like ``predict_method`` for outputs, and
    ``loss_method`` for the loss — or, when the object has no loss, the kit's cross-entropy of its outputs."""

    predict_method: str | None = None
    loss_method: str | None = None
    kit_loss: KitLoss | None = None
    targets: np.ndarray | None = None

    @property
    def can_predict(self) -> bool:
        return self.predict_method is not None

    def _predict(self, X: np.ndarray) -> Any:
        if self.predict_method is None:
            raise ModelInterfaceError(f"{self.label} has no forward/predict method")
        return self._call(self.predict_method, getattr(self.target, self.predict_method), X)

    def use_kit_loss(self, kit_loss: KitLoss, targets: np.ndarray) -> None:
        self.kit_loss, self.targets = kit_loss, targets

    def _loss(self, X: np.ndarray, y: np.ndarray) -> float:
        if self.loss_method is None:
            if self.kit_loss is None or self.targets is None:
                raise ModelInterfaceError(f"{self.label} has no loss(X, y) and no outputs to score")
            return self.kit_loss(self.predict(X), self.targets)
        value = self._call(self.loss_method, getattr(self.target, self.loss_method), X, y)
        return as_loss_value(value, f"{self.label}.{self.loss_method}(X, y)")


class ObjectView(MethodView):
    """``forward(X)``, ``loss(X, y)`` and ``backward(X, y)``/``gradients(X, y)`` returning a gradient dict."""

    style = "forward/backward object"
    separate_backward = True

    def __init__(self, *args: Any, predict_method: str | None, loss_method: str | None,
                 gradient_method: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.predict_method = predict_method
        self.loss_method = loss_method
        self.gradient_method = gradient_method

    def _gradients(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        call = f"{self.label}.{self.gradient_method}(X, y)"
        result = self._call(self.gradient_method, getattr(self.target, self.gradient_method), X, y)
        result = unpack_gradients(result, self.target)
        return match_gradients(result, self.shapes, call)


def unpack_gradients(result: Any, target: Any) -> Any:
    """Accept ``grads``, ``(loss, grads)``, or ``None`` with the grads left on ``target.grads``."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], Mapping):
        return result[1]
    if result is None:
        for attr in ("grads", "gradients"):
            stored = getattr(target, attr, None)
            if isinstance(stored, Mapping):
                return stored
    return result


class CS231nView(ModelView):
    """``loss(X, y=None)``: scores when ``y`` is None, ``(loss, grads)`` otherwise."""

    style = "CS231n-style loss(X, y) -> (loss, grads)"

    def __init__(self, *args: Any, loss_method: str = "loss", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loss_method = loss_method

    @property
    def can_predict(self) -> bool:
        return True

    def _both(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        result = self._call(self.loss_method, getattr(self.target, self.loss_method), X, y)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ModelInterfaceError(
                f"{self.label}.{self.loss_method}(X, y) returned a {type(result).__name__}; expected (loss, grads)"
            )
        return result

    def _loss(self, X: np.ndarray, y: np.ndarray) -> float:
        return as_loss_value(self._both(X, y)[0], f"{self.label}.{self.loss_method}(X, y)[0]")

    def _gradients(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        grads = self._both(X, y)[1]
        return match_gradients(grads, self.shapes, f"{self.label}.{self.loss_method}(X, y)[1]")

    def _predict(self, X: np.ndarray) -> Any:
        return self._call(self.loss_method, getattr(self.target, self.loss_method), X)
