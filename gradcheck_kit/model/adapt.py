"""`adapt`: any supported user object and batch → one `ModelView` and a validated `Batch`.

Styles, tried in this order: torch objects (`torch`, imported only for them); `wrap(...)` of plain
functions; layered models (a list of layers, or `layered(...)`); objects — CS231n ``loss(X, y)``
returning ``(loss, grads)``, forward/backward objects, self-training objects.

Each style has a reader that first obtains the model's outputs from ``X`` alone; the labels are then
checked once, here, before any call that receives ``y`` (numpy would read ``y = -1`` as the last class).
``loss=`` names the loss where the model's code has none: a standard loss name, the user's loss
function, or ``(loss, loss_derivative)`` for a list of layers without a loss layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from ..errors import InputError, ModelInterfaceError
from .batch import Batch, as_batch
from .functional import FunctionalModel, FunctionalView
from .guard import private_copy
from .layers import LayeredModel, LayeredView, is_layer_sequence, layered
from .loss_evidence import identify_loss
from .object_reader import ObjectReader
from .objects import ObjectView
from .torch import adapt_torch, is_torch_function, is_torch_module
from .view import ModelView

__all__ = ["adapt"]


class Reader(Protocol):
    def outputs(self, batch: Batch) -> np.ndarray | None: ...

    def view(self, batch: Batch, outputs: np.ndarray | None) -> ModelView: ...


class _FunctionalReader:
    def __init__(self, model: FunctionalModel) -> None:
        self.view_ = FunctionalView(model)

    def outputs(self, batch: Batch) -> np.ndarray | None:
        return self.view_.predict(batch) if self.view_.can_predict else None

    def view(self, batch: Batch, outputs: np.ndarray | None) -> ModelView:
        if batch.layout != "rows":
            self.view_.notes.add(batch.describe())
        return self.view_


class _LayeredReader:
    def __init__(self, model: LayeredModel) -> None:
        target, copy_failure = private_copy(model)
        self.view_ = LayeredView(target, private=copy_failure is None, label="layered model")
        self.view_.notes.add(f"{len(self.view_.layers)} layers and the loss {self.view_.loss_layer.id}; each backward "
                             f"is also checked on its own")
        if copy_failure:
            self.view_.notes.add(f"the model could not be deep-copied ({copy_failure}); it was checked in place and "
                                 f"restored")

    def outputs(self, batch: Batch) -> np.ndarray | None:
        self.view_.decide_layout(batch)
        return self.view_.predict(batch)

    def view(self, batch: Batch, outputs: np.ndarray | None) -> ModelView:
        if batch.layout != "rows":
            self.view_.notes.add(batch.describe())
        return self.view_


def _reader(model: Any, loss: Any) -> Reader:
    if isinstance(model, FunctionalModel):
        if loss is not None:
            raise InputError("loss= is for models without a loss of their own; wrap(...) already has loss=",
                             option="loss")
        return _FunctionalReader(model)
    if is_layer_sequence(model):
        model = layered(model, loss=loss) if loss is not None else layered(model)
    if isinstance(model, LayeredModel):
        return _LayeredReader(model)
    if isinstance(model, type):
        raise ModelInterfaceError(
            f"model is the class {model.__name__}, not an instance; did you mean {model.__name__}()?")
    if isinstance(model, (Mapping, np.ndarray)) or (callable(model) and not hasattr(model, "__dict__")):
        raise ModelInterfaceError(
            f"model is a {type(model).__name__}; expected an object with forward/backward methods, a CS231n-style "
            f"model, a self-training object, or gradcheck_kit.wrap(...) around functions"
        )
    return ObjectReader(model, loss=loss)


def adapt(model: Any, batch: Any, *, loss: Any = None, seed: int = 0) -> tuple[ModelView, Batch]:
    """Read ``model`` through the first interface that fits, on a private copy when one can be made;
    validate ``batch`` against it."""
    if is_torch_module(model) or is_torch_function(model):
        return adapt_torch(model, batch, loss=loss, seed=seed)
    data = as_batch(batch)
    reader = _reader(model, loss)
    outputs = reader.outputs(data)
    if outputs is not None:
        data.check_labels(outputs.shape[1])
    view = reader.view(data, outputs)
    view.freeze_state()
    if isinstance(view, ObjectView):
        identify_loss(view, data, seed=seed)
    return view, data
