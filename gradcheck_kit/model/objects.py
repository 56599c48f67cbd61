"""Views of objects that compute their own gradient: forward/backward objects and CS231n-style models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from ..numeric.losses import cross_entropy, is_probabilities
from .batch import Batch
from .discovery import GRADIENT_METHODS, PREDICT_METHODS, TRAIN_METHODS, array_attributes, container_slots, find_method
from .guard import private_copy
from .slots import AttrSlot, Slot
from .view import ModelView, as_loss_value, gradient_key, match_gradients

__all__ = ["CS231nView", "KitLoss", "ObjectReader", "ObjectView"]  # _ObjectLossMixin is shared with TrainingView


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


class _PredictMixin:
    predict_method: str | None
    target: Any

    @property
    def can_predict(self) -> bool:
        return self.predict_method is not None

    def _predict(self, X: np.ndarray) -> Any:
        if self.predict_method is None:
            raise ModelInterfaceError(f"{self.label} has no forward/predict method")  # type: ignore[attr-defined]
        return self._call(self.predict_method, getattr(self.target, self.predict_method), X)  # type: ignore[attr-defined]


class _ObjectLossMixin(_PredictMixin):
    """An object's own ``loss(X, y)``, or the kit's cross-entropy of its outputs when it has none."""

    loss_method: str | None
    kit_loss: KitLoss | None = None
    targets: np.ndarray | None = None
    label: str

    def use_kit_loss(self, kit_loss: KitLoss, targets: np.ndarray) -> None:
        self.kit_loss, self.targets = kit_loss, targets

    def _loss(self, X: np.ndarray, y: np.ndarray) -> float:
        if self.loss_method is None:
            if self.kit_loss is None or self.targets is None:
                raise ModelInterfaceError(f"{self.label} has no loss(X, y) and no outputs to score")  # type: ignore[attr-defined]
            return self.kit_loss(self.predict(X), self.targets)  # type: ignore[attr-defined]
        value = self._call(self.loss_method, getattr(self.target, self.loss_method), X, y)  # type: ignore[attr-defined]
        return as_loss_value(value, f"{self.label}.{self.loss_method}(X, y)")  # type: ignore[attr-defined]


class ObjectView(_ObjectLossMixin, ModelView):
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


# -- reading an object ------------------------------------------------------------------------------
def _usable_predict(target: Any, X: np.ndarray) -> tuple[str | None, np.ndarray | None]:
    """First forward-like method returning scores/probabilities (not class labels), and its output."""
    for name in PREDICT_METHODS:
        found = find_method(target, (name,), 1)
        if found is None:
            continue
        try:
            out = found[1](X)
            array = np.asarray(out, dtype=np.float64)
        except Exception:
            continue
        if isinstance(out, tuple) or array.shape[:1] != (X.shape[0],):
            continue
        if array.ndim == 1 and np.asarray(out).dtype.kind in "iub":
            continue  # class labels, not scores
        return name, array if array.ndim == 2 else array[:, None]
    return None, None


def _attribute_slots_for_keys(target: Any, keys: list[str]) -> list[Slot]:
    attrs = {s.name for s in array_attributes(target, public_only=False)}
    names = [gradient_key(attrs, key) for key in keys]
    return [AttrSlot(name=name, owner=target, attr=name) for name in names if name is not None]


def _no_interface(label: str, found: dict[str, str | None]) -> ModelInterfaceError:
    have = [f"{k} ({v})" for k, v in found.items() if v]
    return ModelInterfaceError(
        f"{label} offers no interface gradcheck_kit can check. Looked for: a gradient method "
        f"{'/'.join(f'{m}(X, y)' for m in GRADIENT_METHODS)} returning a dict; a CS231n-style loss(X, y) "
        f"returning (loss, grads); a training method {'/'.join(f'{m}(X, y, lr)' for m in TRAIN_METHODS)} "
        f"updating weights in place. Found: {', '.join(have) or 'none of these'}. For plain functions use "
        f"gradcheck_kit.wrap(params=..., loss=..., grads=...)."
    )


class ObjectReader:
    """Reads a user object: its methods, then (in `view`) which style it is and where its parameters are."""

    def __init__(self, model: Any) -> None:
        self.label = type(model).__name__
        self.target, self.copy_failure = private_copy(model)
        self.loss = find_method(self.target, ("loss",), 2)
        self.grad = find_method(self.target, GRADIENT_METHODS, 2)
        self.train = find_method(self.target, TRAIN_METHODS, 3)
        self.predict_name: str | None = None

    def outputs(self, X: np.ndarray) -> np.ndarray | None:
        """Outputs from ``X`` alone: a forward-like method, or CS231n's ``loss(X)`` returning scores."""
        self.predict_name, outputs = _usable_predict(self.target, X)
        if outputs is None and self.loss is not None and find_method(self.target, ("loss",), 1):
            try:
                scores = np.asarray(self.loss[1](X), dtype=np.float64)
                if scores.ndim == 2 and scores.shape[0] == X.shape[0]:
                    outputs = scores
            except Exception:
                pass
        return outputs

    def view(self, batch: Batch, outputs: np.ndarray | None) -> ModelView:
        view, source = self._styled_view(batch)
        if not view.params:
            raise ModelInterfaceError(
                f"{self.label}: no float parameter arrays found in {source}; expected name → float ndarray entries")
        view.notes.add(f"{view.style}; parameters from {source}", first=True)
        if self.copy_failure:
            view.notes.add(f"the model could not be deep-copied ({self.copy_failure}); it was checked in place "
                           f"and restored")
        if isinstance(view, _ObjectLossMixin) and view.loss_method is None:
            self._use_kit_loss(view, batch, outputs)
        if self.train is not None and view.train_method is None:
            view.train_method = self.train[0]  # the training checks step the model with its own method
        return view

    def _cs231n_grads(self, batch: Batch) -> Mapping[str, Any] | None:
        if self.loss is None or self.grad is not None:
            return None
        try:
            result = self.loss[1](batch.X, batch.y)
        except Exception:
            return None
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], Mapping):
            return result[1]
        return None

    def _styled_view(self, batch: Batch) -> tuple[ModelView, str]:
        from .training import TrainingView, training_slots

        private, container = self.copy_failure is None, container_slots(self.target)
        common = dict(private=private, label=self.label)
        loss_name = self.loss[0] if self.loss else None
        cs231n = self._cs231n_grads(batch)
        if cs231n is not None:
            slots = container[1] if container else _attribute_slots_for_keys(self.target, list(cs231n))
            source = container[0] if container else "attributes named by the gradient dict"
            return CS231nView(self.target, slots, **common), source
        if self.grad is not None:
            source, slots = container if container else ("attributes named by the gradient dict",
                                                          self._gradient_key_slots(batch))
            return ObjectView(self.target, slots, predict_method=self.predict_name, loss_method=loss_name,
                              gradient_method=self.grad[0], **common), source
        if self.train is not None:
            if container:
                slots, source = container[1], container[0]
            else:
                slots, source = training_slots(self.target, batch, self.predict_name, loss_name, self.train[0],
                                               self.label)
            view = TrainingView(self.target, slots, predict_method=self.predict_name, loss_method=loss_name,
                                train_method=self.train[0], **common)
            view.notes.add(f"no gradient method: gradients inferred from one {self.train[0]}(X, y, lr) step as "
                           f"(before - after) / lr")
            return view, source
        raise _no_interface(self.label, {"forward": self.predict_name, "loss": loss_name,
                                         "params": container[0] if container else None})

    def _gradient_key_slots(self, batch: Batch) -> list[Slot]:
        name, method = self.grad or ("", None)
        try:
            keys = list(unpack_gradients(method(batch.X, batch.y), self.target) or {}) if method else []
        except Exception as exc:
            raise ModelInterfaceError(f"{self.label}.{name}(X, y) raised {type(exc).__name__}: {exc}") from exc
        return _attribute_slots_for_keys(self.target, [str(k) for k in keys])

    def _use_kit_loss(self, view: _ObjectLossMixin, batch: Batch, outputs: np.ndarray | None) -> None:
        if outputs is None:
            raise ModelInterfaceError(
                f"{self.label} has no loss(X, y) and no forward(X)/predict_proba(X) returning (B, K) outputs; the kit "
                f"needs one of them to compute a loss")
        if outputs.shape[1] < 2:
            raise ModelInterfaceError(
                f"{self.label} has no loss(X, y) and its forward returns {outputs.shape[1]} column; the kit's default "
                f"loss is softmax cross-entropy over K >= 2 classes: add a loss(X, y) method")
        kit_loss = KitLoss(outputs)
        view.use_kit_loss(kit_loss, batch.one_hot(outputs.shape[1]))
        view.notes.add(f"no loss(X, y): the kit uses the {kit_loss.describe(self.predict_name or 'forward')}")
