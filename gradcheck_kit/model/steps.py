"""Finding a model's own training step, and how to give it a learning rate.

A step is a method named like one (`roles.STEP_NAMES`) that takes the data in the batch's layout —
``train(X, y, lr)``, ``update_mini_batch(mini_batch, eta)``, ``train_on_batch(X, y)`` — and a learning
rate: as an argument (named ``lr``, ``eta``, ``alpha`` ..., or the one argument left), or from the object
(``self.lr``, ``self.optimizer.lr``, ``self.optimizer.learning_rate`` ...), which the kit sets on its
private copy for the step. A ``step(lr)`` that follows a gradient computation (``backward()`` then
``step``) is composed with the gradient call. Further required arguments get neutral values by name
(`roles.neutral_arguments`; ``epochs`` is 1).
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .batch import Batch
from .kit_loss import KitLoss
from .roles import LR_NAMES, STEP_NAMES, Call, initial_state, neutral_arguments, positional_names
from .slots import Slot

if TYPE_CHECKING:
    from .object_reader import ObjectReader

__all__ = ["declared_batch_size", "declared_passes", "find_step", "says_one_example"]

#: A training method's parameter, or the object's attribute, counting the passes it makes over the data it is given.
PASS_NAMES = ("epochs", "num_epochs", "n_epochs", "num_epoch", "n_epoch", "nb_epoch", "max_epochs", "iterations",
              "num_iterations", "n_iterations", "iters", "n_iters", "num_iters", "max_iters", "n_iter", "max_iter",
              "num_passes", "passes", "steps", "num_steps")
#: A step's parameters given 1: one pass (``epoch``, a current epoch, too).
ONE_NAMES = (*PASS_NAMES, "epoch")
#: Attributes that bound how many passes a ``fit`` makes (set to one while the kit steps the model); not
#: ``iterations`` or ``steps``, which count the steps taken as often as they bound them.
BOUND_NAMES = ("epochs", "num_epochs", "n_epochs", "num_epoch", "n_epoch", "nb_epoch", "max_iter", "max_iters",
               "max_epochs", "num_iterations", "n_iterations", "n_iter", "n_iters", "num_iters", "num_passes")
#: A step's first parameter named so takes the examples as a list of ``(x, y)`` pairs.
PAIRS_NAMES = ("mini_batch", "minibatch", "training_data", "train_data", "batch_data")
#: Names of a mini-batch size the step reads off the object (``self.batch_size``): the whole batch in one step.
BATCH_NAMES = ("batch_size", "mini_batch_size")
OPTIMIZER_NAMES = ("optimizer", "optim", "opt", "optimiser")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(target: Any, name: str) -> int | None:
    """The object's own integer attribute ``name`` (numpy integers too; not a bool), else None."""
    value = vars(target).get(name) if hasattr(target, "__dict__") else None
    return int(value) if isinstance(value, int | np.integer) and not isinstance(value, bool) else None


def _lr_holder(target: Any) -> tuple[str | None, str] | None:
    """Where the object keeps its learning rate: ``self.lr``-like (holder ``None``), or on its optimizer
    object (holder: that attribute's name). Names, not objects: the holder is looked up at each step."""
    for holder in (None, *OPTIMIZER_NAMES):
        obj = target if holder is None else getattr(target, holder, None)
        for name in LR_NAMES if obj is not None else ():
            value = getattr(obj, name, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return holder, name
    return None


def _with_lr_attribute(method: Callable[..., Any], target: Any, holder: str | None, attr: str) -> Callable[..., Any]:
    def step(*args: Any, lr: float, **kwargs: Any) -> Any:
        obj = target if holder is None else getattr(target, holder)
        # nnfs's optimizers step by current_learning_rate, recomputed from learning_rate only when decaying, as
        # learning_rate / (1 + decay · iterations): the kit's step is the schedule's first, at lr. Only that
        # pattern: elsewhere `decay` may be an L2 strength and `iterations` a warm-up or a loop bound
        values = {attr: lr, f"current_{attr}": lr}
        decay = getattr(obj, "decay", None)
        if (_number(decay) and decay and _number(getattr(obj, f"current_{attr}", None))
                and _number(getattr(obj, "iterations", None))):
            values["iterations"] = 0
        saved = {}
        for name, value in values.items():
            if name == attr or _number(getattr(obj, name, None)):
                with contextlib.suppress(AttributeError, TypeError):  # a read-only property keeps its value
                    before = getattr(obj, name)
                    setattr(obj, name, value)
                    saved[name] = before
        try:
            return method(*args, **kwargs)
        finally:
            for name, value in saved.items():
                setattr(obj, name, value)

    return step


def _one_step_attributes(target: Any, batch: Batch) -> dict[str, int]:
    """Bounds the object keeps that would make its step several (``self.max_iter = 200`` epochs, ``self.batch_size
    = 20`` examples per update): one pass, of the whole batch, while the kit steps it. Only bounds above one, by
    names that are bounds, not counters (``self.epoch``, ``self.steps`` may drive a learning-rate schedule)."""
    state = vars(target) if hasattr(target, "__dict__") else {}
    out = {}
    for name in BOUND_NAMES:
        current = state.get(name)
        if isinstance(current, int) and not isinstance(current, bool) and current > 1:
            out[name] = 1
    for name in BATCH_NAMES:  # a smaller mini-batch would make several steps of the batch
        current = state.get(name)
        if isinstance(current, int) and not isinstance(current, bool) and 0 < current < batch.size:
            out[name] = batch.size
    return out


def _with_attributes(method: Callable[..., Any], target: Any, values: dict[str, int]) -> Callable[..., Any]:
    def step(*args: Any, **kwargs: Any) -> Any:
        saved = {name: getattr(target, name) for name in values}
        for name, value in values.items():
            with contextlib.suppress(Exception):  # a guarded attribute keeps its value
                setattr(target, name, value)
        try:
            return method(*args, **kwargs)
        finally:
            for name, value in saved.items():
                with contextlib.suppress(Exception):
                    setattr(target, name, value)

    return step


def declared_batch_size(target: Any) -> tuple[str, int | None] | None:
    """The mini-batch size the object says it trains with, where it says one: a training method's
    ``batch_size``-like parameter with a default (CS231n's ``train(X, y, ..., batch_size=200)``; ``None``,
    nnfs's ``train(X, y, *, batch_size=None)``, is every example at once); with where it was read. (Not an
    attribute: ``self.batch_size`` alone does not say how the model is trained.)"""
    for name in (*STEP_NAMES, "fit", "SGD", "sgd"):
        method = getattr(target, name, None)
        if not callable(method) or isinstance(method, type):
            continue
        try:
            parameters = inspect.signature(method).parameters
        except (TypeError, ValueError):
            continue
        for arg in BATCH_NAMES:
            default = parameters[arg].default if arg in parameters else inspect.Parameter.empty
            if default is None or (isinstance(default, int) and not isinstance(default, bool)):
                return f"{name}(..., {arg}={default})", default
    return None


def declared_passes(target: Any, method_name: str) -> str | None:
    """Where the object says its training method ``method_name`` makes its own passes over the data it is
    given — nnfs's ``train(X, y, *, epochs=1)``, a ``fit(X, y)`` that reads ``self.max_iter`` — so that it
    is called with the training set, not one example at a time."""
    try:
        parameters = inspect.signature(getattr(target, method_name)).parameters
    except (AttributeError, TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    for name in PASS_NAMES:
        if name in parameters:
            return f"{method_name}(..., {name})"
    try:  # an attribute counts where the method itself reads it
        source = inspect.getsource(getattr(target, method_name))
    except (AttributeError, TypeError, OSError):
        return None
    for name in BOUND_NAMES:
        value = _count(target, name)
        if value is not None and value >= 1 and re.search(rf"\bself\.{name}\b", source):
            return f"{method_name}(...) reading self.{name} = {value}"
    return None


def says_one_example(target: Any) -> bool:
    """Whether the object says it steps one example at a time: a training method's batch-size default of 1, or
    ``self.batch_size = 1`` (which the kit raises to the whole batch while it steps the model)."""
    declared = declared_batch_size(target)
    return (declared is not None and declared[1] == 1) or any(_count(target, name) == 1 for name in BATCH_NAMES)


def _pairs_taken(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method(mini_batch, ...)`` called as ``(X, y, ...)``: the examples zipped into ``(x, y)`` pairs."""
    def step(X: Any, y: Any, *args: Any, **kwargs: Any) -> Any:
        return method(list(zip(X, y, strict=True)), *args, **kwargs)

    return step


def _step_call(name: str, method: Callable[..., Any], target: Any, batch: Batch) -> Call | None:
    params = positional_names(method)
    n_data = len(batch.call_args())
    if (n_data == 2 and batch.layout != "pairs" and not batch.extra and params and params[0][0] in PAIRS_NAMES
            and (len(params) == 1 or params[1][0] in LR_NAMES)):
        # Nielsen's update_mini_batch(mini_batch, eta) given the examples as (X, y): one argument of pairs
        method, params, n_data = _pairs_taken(method), params[1:], 0
    if len(params) < n_data:
        return None
    rest = params[n_data:]
    counts = _one_step_attributes(target, batch)
    if counts:
        method = _with_attributes(method, target, counts)
    lr_arg = next((n for n, _ in rest if n in LR_NAMES), None)
    if lr_arg is None and rest and rest[0][1] and rest[0][0] not in ONE_NAMES:
        lr_arg = rest[0][0]  # the one argument after the data is the rate, whatever its name
    others = [(n, req) for n, req in rest if n != lr_arg and n not in ONE_NAMES]
    fixed = neutral_arguments(others, batch.size, initial_state(target))
    if fixed is None:
        return None
    fixed.update({n: 1 for n, req in rest if n in ONE_NAMES})  # one pass, also where the default is many
    fixed.update({n: batch.size for n, req in rest if n in ("batch_size", "mini_batch_size")})  # in one step
    if lr_arg is not None:
        return Call(name, method, fixed=fixed, lr_arg=lr_arg)
    holder = _lr_holder(target)
    if holder is None:
        return None
    return Call(name, _with_lr_attribute(method, target, *holder), fixed=fixed, lr_arg="lr")


def _after_gradient(name: str, method: Callable[..., Any], gradient: Call | None) -> Call | None:
    """``step(lr)`` alone: run the gradient call, then the step."""
    params = positional_names(method)
    if gradient is None or len(params) != 1 or params[0][0] not in LR_NAMES:
        return None

    def step(*args: Any, lr: float, **kwargs: Any) -> Any:
        gradient.method(*args, **kwargs)
        return method(lr)

    return Call(name, step, fixed=dict(gradient.fixed), lr_arg="lr")


def find_step(reader: ObjectReader, batch: Batch, candidates: list[Slot], container: tuple[str, list[Slot]] | None,
              gradient: Call | None, kit_loss: KitLoss | None) -> tuple[Call | None, list[Slot]]:
    """The training step and, when the gradient must be read off it, the parameters it trains."""
    target = reader.target
    for name in (*STEP_NAMES, "fit"):
        method = getattr(target, name, None)
        if not callable(method) or isinstance(method, type):
            continue
        call = _step_call(name, method, target, batch) or _after_gradient(name, method, gradient)
        if call is None:
            continue
        slots = _trained(reader, call, batch, container[1] if container else candidates)
        if slots:
            if len(candidates) > len(slots) and not container:
                left = [s.name for s in candidates if s not in slots]
                reader.notes.append(f"not parameters, as the outputs do not depend on them or forward rewrites them: "
                                    f"{', '.join(left)}")
            return call, slots
    return None, []


def _trained(reader: ObjectReader, call: Call, batch: Batch, pool: list[Slot]) -> list[Slot]:
    """The parameters a step trains: the arrays the outputs depend on (optimizer buffers and caches that
    forward rewrites are not; a weight the step forgets to update still is) — provided the step runs
    and changes at least one of them."""
    live = [s for s in pool if reader._loss_depends_on(s, batch)]
    before = {s.name: np.array(s.read(), copy=True) for s in live}
    try:
        call.whole(batch.with_arrays(np.array(batch.X), np.array(batch.y)), 1e-4)
        moved = any(np.shape(s.read()) == before[s.name].shape and not np.array_equal(np.asarray(s.read()),
                                                                                        before[s.name]) for s in live)
    except Exception:
        moved = False
    finally:
        reader._reset()
    return live if moved else []
