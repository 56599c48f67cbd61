"""`wrap`: plain functions over a parameter dict, made into a model the kit can check."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from .discovery import is_param_array
from .slots import ItemSlot, Slot
from .view import INFERENCE_LR, ModelView, as_loss_value, match_gradients

__all__ = ["FunctionalModel", "FunctionalView", "wrap"]

LossFn = Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray], Any]


@dataclass(frozen=True, eq=False)
class FunctionalModel:
    """Functions of ``(params, X, y)`` bundled by `wrap`; the kit never calls them with the caller's dict."""

    params: Mapping[str, np.ndarray]
    loss: LossFn
    grads: Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray], Any] | None = None
    predict: Callable[[dict[str, np.ndarray], np.ndarray], Any] | None = None
    train: Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray, float], Any] | None = None
    name: str = "wrapped model"


def wrap(
    *,
    params: Mapping[str, np.ndarray],
    loss: LossFn,
    grads: Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray], Any] | None = None,
    predict: Callable[[dict[str, np.ndarray], np.ndarray], Any] | None = None,
    train: Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray, float], Any] | None = None,
    name: str = "wrapped model",
) -> FunctionalModel:
    """Bundle functional code into a model for `diagnose`.

    Parameters
    ----------
    params
        Parameter name → float array. Never modified: the kit works on copies.
    loss
        ``loss(params, X, y) -> float``: the batch loss.
    grads
        ``grads(params, X, y) -> dict``: the analytic gradient, same keys and shapes as ``params``.
    predict
        ``predict(params, X) -> (B, K)`` probabilities or scores (optional; enables output checks).
    train
        ``train(params, X, y, lr)`` updating ``params`` in place (optional; used when ``grads`` is absent
        and by the training checks).
    name
        How the report names the model.
    """
    if not isinstance(params, Mapping) or not params:
        raise ModelInterfaceError(
            f"wrap(params=...) got a {type(params).__name__}; expected a non-empty dict of arrays"
        )
    bad = [k for k, v in params.items() if not is_param_array(v)]
    if bad:
        raise ModelInterfaceError(
            f"wrap(params=...): {bad} are not non-empty float arrays; expected name → float ndarray"
        )
    for label, func in (("loss", loss), ("grads", grads), ("predict", predict), ("train", train)):
        if func is not None and not callable(func):
            raise ModelInterfaceError(f"wrap({label}=...) got a {type(func).__name__}; expected a function")
    if grads is None and train is None:
        raise ModelInterfaceError("wrap() needs grads=(params, X, y) -> dict or train=(params, X, y, lr); got neither")
    return FunctionalModel(params=params, loss=loss, grads=grads, predict=predict, train=train, name=name)


class FunctionalView(ModelView):
    """View over a `FunctionalModel`; the working dict is the kit's own."""

    style = "functions (wrap)"

    def __init__(self, model: FunctionalModel) -> None:
        self.model = model
        self.working: dict[str, np.ndarray] = {k: np.array(v, dtype=np.float64) for k, v in model.params.items()}
        slots: list[Slot] = [ItemSlot(name=k, mapping=self.working, key=k) for k in self.working]
        super().__init__(self.working, slots, private=True, label=model.name)
        self.source_dtypes = {k: np.asarray(v).dtype for k, v in model.params.items()}

    @property
    def can_predict(self) -> bool:
        return self.model.predict is not None

    @property
    def can_train(self) -> bool:
        return self.model.train is not None

    def _loss(self, X: np.ndarray, y: np.ndarray) -> float:
        return as_loss_value(
            self._call("loss", self.model.loss, self.working, X, y), f"{self.label} loss(params, X, y)"
        )

    def _gradients(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        if self.model.grads is None:
            return self.inferred_gradients(X, y, INFERENCE_LR)
        grads = self._call("grads", self.model.grads, self.working, X, y)
        return match_gradients(grads, self.shapes, f"{self.label} grads(params, X, y)")

    def _predict(self, X: np.ndarray) -> Any:
        if self.model.predict is None:
            raise ModelInterfaceError(f"{self.label} was wrapped without predict=")
        return self._call("predict", self.model.predict, self.working, X)

    def _train(self, X: np.ndarray, y: np.ndarray, lr: float) -> None:
        if self.model.train is None:
            raise ModelInterfaceError(f"{self.label} was wrapped without train=")
        self._call("train", self.model.train, self.working, X, y, lr)
