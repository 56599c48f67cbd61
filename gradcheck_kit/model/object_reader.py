"""Reading a user object: which style it is (CS231n, forward/backward, self-training) and where its
parameters are, then its view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from .batch import Batch
from .discovery import GRADIENT_METHODS, PREDICT_METHODS, TRAIN_METHODS, array_attributes, container_slots, find_method
from .guard import private_copy
from .objects import CS231nView, KitLoss, MethodView, ObjectView, unpack_gradients
from .slots import AttrSlot, Slot
from .training import TrainingView, training_slots
from .view import ModelView, gradient_key

__all__ = ["ObjectReader"]


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
        if isinstance(view, MethodView) and view.loss_method is None:
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
        private, container = self.copy_failure is None, container_slots(self.target)
        common: dict[str, Any] = {"private": private, "label": self.label}
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

    def _use_kit_loss(self, view: MethodView, batch: Batch, outputs: np.ndarray | None) -> None:
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
