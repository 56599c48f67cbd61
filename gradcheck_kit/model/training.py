"""View of a self-training object: it updates its own weights in place and returns no gradient.

The gradient is inferred on the private copy as ``(before - after) / lr`` from one call of
``train(X, y, lr)`` (or ``step``/``update``), then the weights are put back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from .batch import Batch
from .discovery import array_attributes
from .objects import MethodView
from .slots import Slot
from .view import INFERENCE_LR

__all__ = ["TrainingView", "training_slots"]


class TrainingView(MethodView):
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


def training_slots(target: Any, batch: Batch, predict: str | None, loss: str | None,
                   train: str, label: str) -> tuple[list[Slot], str]:
    """Array attributes that are parameters: the model's output depends on them, and forward does not
    rewrite them (caches). Optimizer buffers, data kept on the object and caches are left out; a weight
    that the training step forgets to update is still a parameter."""
    X, y = batch.X, batch.y
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
    note = f"attributes {', '.join(s.name for s in chosen)}"
    if ignored:
        note += (
            f" (not parameters, as the output does not depend on them or forward rewrites them: {', '.join(ignored)})"
        )
    return chosen, note
