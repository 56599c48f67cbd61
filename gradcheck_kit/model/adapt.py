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
from dataclasses import replace
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from ..errors import InputError, ModelInterfaceError
from .batch import Batch, as_batch
from .copies import private_copy
from .discovery import find_arrays
from .functional import FunctionalModel, FunctionalView
from .kit_loss import KitLoss, loss_from_spec, standard_loss
from .layers import LayeredModel, LayeredView, is_layer_sequence, layered
from .loss_evidence import identify_loss
from .losses_implied import loss_functions
from .object_reader import ObjectReader
from .objects import ObjectView
from .roles import GRADIENT_NAMES
from .torch import adapt_torch, is_torch_function, is_torch_module
from .view import ModelView

__all__ = ["adapt"]


class Reader(Protocol):
    def outputs(self, batch: Batch) -> np.ndarray | None: ...

    def view(self, batch: Batch, outputs: np.ndarray | None) -> ModelView: ...


FUNCTION_ROLES = ("forward", "predict", "loss", "grads", "train")


def _function_name(func: Any, default: str) -> str:
    """A function's name, also through functools.partial (``partial(backward_prop, reg=0.1)``)."""
    return str(getattr(getattr(func, "func", func), "__name__", default))


class _FunctionalReader:
    def __init__(self, model: FunctionalModel, loss: Any = None) -> None:
        self.view_ = FunctionalView(model)
        if model.loss is None:
            self.view_.kit_loss = _wrapped_loss(model, loss)
            if self.view_.kit_loss is None:
                self.view_.notes.add("loss: the number train(...) returns after a step of 0 (the loss before "
                                     "its update)")
            elif not self.view_.kit_loss.undecided:
                self.view_.notes.add(f"loss: {self.view_.kit_loss.describe()}")

    def outputs(self, batch: Batch) -> np.ndarray | None:
        view = self.view_
        given = [f"{role}={_function_name(getattr(view.model, role), role)}" for role in FUNCTION_ROLES
                 if getattr(view.model, role) is not None]
        view.notes.add(f"functions: {', '.join(given)}; parameters: {', '.join(view.names)}", first=True)
        if view.model.loss is None and view.model.forward is not None and view.kit_loss is not None \
                and view.kit_loss.undecided == "loss" and "cost" in view.forward_parts(batch):
            view.kit_loss = None  # forward returns its own cost: that is the loss, nothing to identify
            view.notes.add("loss: the cost forward(...) returns beside its outputs")
        if not view.can_predict:
            return None
        raw = np.asarray(view._predict(batch))  # as returned: class labels are integers
        if raw.dtype.kind in "iub" and raw.ndim == 1 and batch.size > 1:
            view.labels_only = True
            view.notes.add("predict returns class labels, not scores or probabilities: the checks that read the "
                           "outputs (named output-delta causes, label collapse) are skipped; give predict= that "
                           "returns the scores or probabilities")
            return None
        return view.predict(batch)

    def view(self, batch: Batch, outputs: np.ndarray | None) -> ModelView:
        if batch.layout != "rows":
            self.view_.notes.add(batch.describe())
        return self.view_


class _LayeredReader:
    def __init__(self, model: LayeredModel, label: str = "layered model", how: str = "",
                 saved: Mapping[int, np.ndarray] | None = None) -> None:
        target, copy_failure, self.start = private_copy(model, saved)
        self.view_ = LayeredView(target, private=copy_failure is None, label=label)
        if how:
            self.view_.notes.add(how)
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


def _reader(model: Any, loss: Any, saved: Mapping[int, np.ndarray] | None = None) -> Reader:
    if isinstance(model, FunctionalModel):
        if loss is not None and model.loss is not None:
            raise InputError("loss= is for models without a loss of their own; wrap(...) already has loss=",
                             option="loss")
        return _FunctionalReader(model, loss)
    if is_layer_sequence(model):
        model = layered(model, loss=loss) if loss is not None else layered(model)
    if isinstance(model, LayeredModel):
        return _LayeredReader(model, saved=saved)
    held = held_layers(model, loss)
    if held is not None:
        return _LayeredReader(*held, saved=saved)
    if isinstance(model, ModuleType):
        raise ModelInterfaceError(
            f"model is the module {model.__name__}: a module holds functions, not the weights. Name the weights and "
            f"give the functions: gradcheck_kit.wrap({{'W1': W1, ...}}, train={model.__name__}.train) (an argument "
            f"named like a weight gets it), or loss=/grads=/predict=")
    _check_getattr(model)
    _check_no_matrices(model)
    if isinstance(model, type):
        raise ModelInterfaceError(
            f"model is the class {model.__name__}, not an instance; did you mean {model.__name__}()?")
    if isinstance(model, (Mapping, np.ndarray)) or (callable(model) and not hasattr(model, "__dict__")):
        raise ModelInterfaceError(
            f"model is a {type(model).__name__}; expected an object with forward/backward methods, a CS231n-style "
            f"model, a self-training object, or gradcheck_kit.wrap(...) around functions"
        )
    return ObjectReader(model, loss=loss, saved=saved)


def _check_getattr(model: Any) -> None:
    """A ``__getattr__`` must raise AttributeError for a missing name (every ``getattr(obj, name, default)``
    relies on it); one that raises anything else is said plainly instead of surfacing from deep inside."""
    try:
        getattr(model, "__gradcheck_kit_probe__", None)
    except Exception as exc:
        raise ModelInterfaceError(
            f"{type(model).__name__}.__getattr__ raised {type(exc).__name__} for a missing attribute; expected "
            f"AttributeError (Python's rule for __getattr__), so the kit can look for the methods it reads") from exc


def _check_no_matrices(model: Any) -> None:
    """numpy.matrix parameters make ``*`` and ``**`` matrix products: refused before any call."""
    if isinstance(model, type | ModuleType) or not hasattr(model, "__dict__"):
        return
    matrices = [slot.name for slot in find_arrays(model) if isinstance(slot.read(), np.matrix)]
    if matrices:
        raise ModelInterfaceError(f"parameters {matrices[:4]} are numpy.matrix objects: their * and ** are matrix "
                                  f"products, so arithmetic on them differs from arrays'; keep parameters as ndarray "
                                  f"(np.asarray(m))")


def _wrapped_loss(model: FunctionalModel, loss: Any) -> KitLoss | None:
    """The loss of a model wrapped without ``loss=``: ``diagnose``'s ``loss=``; else, with outputs to
    score and no training step that returns a loss, a provisional one the gradient decides
    (`loss_evidence`)."""
    if loss is not None:
        return loss_from_spec(loss)
    if model.train is not None or (model.predict is None and model.forward is None):
        return None
    return replace(standard_loss("cross-entropy", source="identified from the model's gradient"), undecided="loss")


def held_layers(model: Any, loss: Any) -> tuple[LayeredModel, str, str] | None:
    """An object that holds its layers in a list and its loss as functions (``net.layers``, ``net.loss``
    and ``net.loss_prime`` set by ``net.use(mse, mse_prime)``), with no gradient method of its own: read
    through its layers, each backward checked on its own too. ``loss=`` names the loss if it keeps none."""
    if isinstance(model, (list, tuple, Mapping, type)) or not hasattr(model, "__dict__"):
        return None
    if any(callable(getattr(model, n, None)) for n in GRADIENT_NAMES):
        return None
    found = next(((n, v) for n, v in vars(model).items() if is_layer_sequence(v)), None)
    if found is None:
        return None
    name, layers = found
    if loss is not None:
        spec, said = loss, "loss= given"
    else:
        kept = loss_functions(model)
        if kept is None:
            return None
        spec, said = kept[1], f"loss self.{kept[0]}"
    how = f"read through its layers, self.{name}; {said}"
    return layered(layers, loss=spec), type(model).__name__, how


def adapt(model: Any, batch: Any, *, loss: Any = None, seed: int = 0,
          saved: Mapping[int, np.ndarray] | None = None) -> tuple[ModelView, Batch]:
    """Read ``model`` through the first interface that fits, on a private copy when one can be made;
    validate ``batch`` against it. ``saved``: read-only copies of the model's arrays by their ``id`` (its
    guard's), lent to the view as its parameters' start values (`ModelView.start_values`)."""
    if is_torch_module(model) or is_torch_function(model):
        return adapt_torch(model, batch, loss=loss, seed=seed)
    data = as_batch(batch)
    reader = _reader(model, loss, saved)
    outputs = reader.outputs(data)
    if outputs is not None and not data.comparable(outputs.shape[1]) and isinstance(reader, ObjectReader):
        # real-valued targets of another width (a sequence's targets, a predict that returns the last step):
        # those outputs are not what the loss compares, so the checks that read outputs do without them
        reader.notes.append(f"{reader.outputs_call.describe() if reader.outputs_call else 'the outputs'} gives "
                            f"{outputs.shape[1]} values per example and the targets have "
                            f"{data.target_rows.reshape(data.size, -1).shape[1]}: its outputs are not used")
        reader.outputs_call, outputs = None, None
    if outputs is not None:
        data.check_labels(outputs.shape[1])
    view = reader.view(data, outputs)
    start: Mapping[int, np.ndarray] = getattr(reader, "start", {})
    view.start_values = {name: start[id(a)] for name, a in view.params.items() if id(a) in start}
    view.freeze_state()
    if isinstance(view, ObjectView | FunctionalView):
        identify_loss(view, data, seed=seed)
    view.settle()
    return view, data
