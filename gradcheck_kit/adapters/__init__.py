"""Adapters: any supported user object → one `ModelView`.

Styles, tried in this order (torch objects go through `adapters.torch`, imported only for them):

1. `wrap(...)` of plain functions;
2. layered models: a list of layers, or `layered(...)` of layers / `pair(...)` function pairs;
3. CS231n style: ``loss(X, y)`` returning ``(loss, grads)`` (and scores for ``loss(X)``);
4. forward/backward objects: ``backward(X, y)`` / ``gradients(X, y)`` returning a gradient dict;
5. self-training objects: ``train(X, y, lr)`` / ``step`` / ``update`` changing the weights in place.

Parameters come from a ``params``/``parameters`` mapping (attribute or method) when there is one, else
from array attributes: those named by the gradient dict, or for self-training objects the ones the
output depends on (and that forward does not rewrite, unlike caches).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..batch import Batch
from ..errors import ModelInterfaceError
from .discovery import (
    GRADIENT_METHODS,
    PREDICT_METHODS,
    TRAIN_METHODS,
    array_attributes,
    container_slots,
    find_method,
)
from .functional import FunctionalModel, FunctionalView, wrap
from .guard import ModelGuard, private_copy
from .layers import FunctionPair, LayeredModel, LayeredView, is_layer_sequence, layered, pair
from .objects import CS231nView, KitLoss, ObjectView, unpack_gradients
from .slots import AttrSlot, Slot
from .training import TrainingView
from .view import ModelView, gradient_key

__all__ = ["FunctionPair", "FunctionalModel", "LayeredModel", "ModelGuard", "ModelView", "adapt", "layered", "pair", "wrap"]

def _usable_predict(target: Any, X: np.ndarray, label: str) -> tuple[str | None, np.ndarray | None]:
    """First forward-like method returning scores/probabilities (not class labels), and its output."""
    for name in PREDICT_METHODS:
        found = find_method(target, (name,), 1)
        if found is None:
            continue
        try:
            out = found[1](X)
        except Exception:
            continue
        try:
            array = np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError):
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


def _training_slots(target: Any, X: np.ndarray, y: np.ndarray, predict: str | None, loss: str | None,
                    train: str, label: str) -> tuple[list[Slot], str]:
    """Array attributes that are parameters: the model's output depends on them, and forward does not
    rewrite them (caches). Optimizer buffers, data kept on the object and caches are left out; a weight
    that the training step forgets to update is still a parameter."""
    candidates = array_attributes(target)
    if not candidates:
        raise ModelInterfaceError(
            f"{label} has {train}(X, y, lr) but no params dict and no float array attributes; expected weights "
            f"as attributes (self.W1, self.b1, ...) or a params dict"
        )
    if predict is not None:
        def output() -> np.ndarray:
            return np.asarray(getattr(target, predict)(X), dtype=np.float64)
    elif loss is not None:
        def output() -> np.ndarray:
            return np.asarray(getattr(target, loss)(X, y), dtype=np.float64)
    else:
        raise ModelInterfaceError(f"{label} has {train}(X, y, lr) but no forward(X) or loss(X, y) to evaluate")
    before = {s.name: s.read() for s in candidates}
    try:
        reference = output()
    except Exception as exc:
        raise ModelInterfaceError(f"{label}.{predict or loss}(...) raised {type(exc).__name__}: {exc}") from exc
    caches = {s.name for s in candidates if s.read() is not before[s.name]}
    rng = np.random.default_rng(0)
    chosen: list[Slot] = []
    for slot in candidates:
        if slot.name in caches:
            continue
        array = slot.read()
        if not array.flags.writeable:
            continue
        saved = array.copy()
        try:
            scale = 1e-3 * max(1.0, float(np.sqrt(np.mean(saved.astype(np.float64) ** 2))))
            # Gaussian, not ±scale: a uniform shift of an output bias is invisible through a softmax
            array += (scale * rng.standard_normal(array.shape)).astype(array.dtype)
            with np.errstate(all="ignore"):
                moved = output()
        except Exception:
            moved = reference
        finally:
            np.copyto(array, saved)
        if moved.shape != reference.shape or not np.array_equal(moved, reference):
            chosen.append(slot)
    if not chosen:
        raise ModelInterfaceError(
            f"{label}: none of the array attributes {[s.name for s in candidates]} changes the output of "
            f"{predict or loss}(); expected weights kept as attributes (self.W1, self.b1, ...) or a params dict"
        )
    ignored = sorted({s.name for s in candidates} - {s.name for s in chosen})
    note = f"parameters found as attributes: {', '.join(s.name for s in chosen)}"
    if ignored:
        note += f" (not parameters, as the output does not depend on them or forward rewrites them: {', '.join(ignored)})"
    return chosen, note


def _no_interface(label: str, found: dict[str, str | None]) -> ModelInterfaceError:
    have = [f"{k} ({v})" for k, v in found.items() if v]
    return ModelInterfaceError(
        f"{label} offers no interface gradcheck_kit can check. Looked for: a gradient method "
        f"{'/'.join(f'{m}(X, y)' for m in GRADIENT_METHODS)} returning a dict; a CS231n-style loss(X, y) "
        f"returning (loss, grads); a training method {'/'.join(f'{m}(X, y, lr)' for m in TRAIN_METHODS)} "
        f"updating weights in place. Found: {', '.join(have) or 'none of these'}. For plain functions use "
        f"gradcheck_kit.wrap(params=..., loss=..., grads=...)."
    )


def adapt(model: Any, batch: Batch) -> ModelView:
    """Read ``model`` through the first interface that fits; work on a private copy when possible."""
    if isinstance(model, FunctionalModel):
        return FunctionalView(model)
    if is_layer_sequence(model):
        model = layered(model)
    if isinstance(model, LayeredModel):
        target, copy_failure = private_copy(model)
        view = LayeredView(target, private=copy_failure is None, label="layered model")
        view.notes.append(f"layered model: {len(view.layers)} layers and the loss {view.loss_layer.id}; each backward "
                          f"is also checked on its own")
        if copy_failure:
            view.notes.append(f"the model could not be deep-copied ({copy_failure}); it was checked in place and restored")
        outputs = view.predict(batch.X)
        if outputs.ndim == 2 and outputs.shape[1] >= 2:
            batch.check_labels(outputs.shape[1])
        view.freeze_state()
        return view
    if isinstance(model, (Mapping, np.ndarray, type)) or callable(model) and not hasattr(model, "__dict__"):
        raise ModelInterfaceError(
            f"model is a {type(model).__name__}; expected an object with forward/backward methods, a CS231n-style "
            f"model, a self-training object, or gradcheck_kit.wrap(...) around functions"
        )
    label = type(model).__name__
    target, copy_failure = private_copy(model)
    private = copy_failure is None
    X, y = batch.X, batch.y
    loss = find_method(target, ("loss",), 2)
    grad = find_method(target, GRADIENT_METHODS, 2)
    train = find_method(target, TRAIN_METHODS, 3)
    predict_name, outputs = _usable_predict(target, X, label)
    if outputs is None and loss is not None and find_method(target, ("loss",), 1):
        try:  # CS231n style: loss(X) returns the scores
            scores = np.asarray(loss[1](X), dtype=np.float64)
            if scores.ndim == 2 and scores.shape[0] == X.shape[0]:
                outputs = scores
        except Exception:
            pass
    if outputs is not None:
        batch.check_labels(outputs.shape[1])  # before any call with y: numpy would read y=-1 as the last class
    container = container_slots(target)
    notes: list[str] = []
    if copy_failure:
        notes.append(f"the model could not be deep-copied ({copy_failure}); it was checked in place and restored")

    view: ModelView
    cs231n_grads = None
    if loss is not None and grad is None:
        try:
            result = loss[1](X, y)
        except Exception:
            result = None
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], Mapping):
            cs231n_grads = result[1]

    if cs231n_grads is not None:
        slots = container[1] if container else _attribute_slots_for_keys(target, list(cs231n_grads))
        view = CS231nView(target, slots, private=private, label=label)
        source = container[0] if container else "attributes named by the gradient dict"
    elif grad is not None:
        if container:
            slots, source = container[1], container[0]
        else:
            try:
                keys = list(unpack_gradients(grad[1](X, y), target) or {})
            except Exception as exc:
                raise ModelInterfaceError(f"{label}.{grad[0]}(X, y) raised {type(exc).__name__}: {exc}") from exc
            slots, source = _attribute_slots_for_keys(target, [str(k) for k in keys]), "attributes named by the gradient dict"
        view = ObjectView(target, slots, private=private, label=label, predict_method=predict_name,
                          loss_method=loss[0] if loss else None, gradient_method=grad[0])
    elif train is not None:
        if container:
            slots, source = container[1], container[0]
        else:
            slots, source = _training_slots(target, X, y, predict_name, loss[0] if loss else None, train[0], label)
        view = TrainingView(target, slots, private=private, label=label, predict_method=predict_name,
                            loss_method=loss[0] if loss else None, train_method=train[0])
        notes.append(f"no gradient method: gradients inferred from one {train[0]}(X, y, lr) step as (before - after) / lr")
    else:
        raise _no_interface(label, {"forward": predict_name, "loss": loss and loss[0], "params": container and container[0]})

    if not view.params:
        raise ModelInterfaceError(
            f"{label}: no float parameter arrays found in {source}; expected name → float ndarray entries"
        )
    notes.insert(0, f"{view.style}; parameters from {source}")
    if isinstance(view, (ObjectView, TrainingView)) and view.loss_method is None:
        if outputs is None:
            raise ModelInterfaceError(
                f"{label} has no loss(X, y) and no forward(X)/predict_proba(X) returning (B, K) outputs; the kit "
                f"needs one of them to compute a loss"
            )
        if outputs.shape[1] < 2:
            raise ModelInterfaceError(
                f"{label} has no loss(X, y) and its forward returns {outputs.shape[1]} column; the kit's default loss "
                f"is softmax cross-entropy over K >= 2 classes: add a loss(X, y) method"
            )
        batch.check_labels(outputs.shape[1])
        kit_loss = KitLoss(outputs)
        view.use_kit_loss(kit_loss, batch.one_hot(outputs.shape[1]))
        notes.append(f"no loss(X, y): the kit uses the {kit_loss.describe(predict_name or 'forward')}")
    if train is not None and view.train_method is None:
        view.train_method = train[0]  # the training checks step the model with its own method
    view.freeze_state()
    view.notes[:0] = notes
    return view
