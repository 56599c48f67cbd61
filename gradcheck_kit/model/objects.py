"""`ObjectView`: a user object seen through the roles its methods play (see `roles`).

One view serves every object style: a CS231n model (``loss(X, y)`` → ``(loss, grads)``), a
forward/backward object, per-example column-vector code (``backprop(x, y)``), objects that leave their
gradients on themselves after ``backward()``, and self-training objects whose gradient is read off one
training step. What differs is which `Call` fills which role, and how a gradient result is read
(`GradientReader`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ModelInterfaceError
from .batch import Batch
from .kit_loss import KitLoss
from .roles import Call, as_number
from .view import INFERENCE_LR, ModelView, as_loss_value, match_gradients

__all__ = ["GradientReader", "LossReader", "ObjectView", "unpack_gradients"]

#: Reads a gradient call's raw result into parameter name → array (names exactly the view's).
GradientReader = Callable[[Any], Mapping[str, Any]]
#: Reads a loss call's raw result into the loss value.
LossReader = Callable[[Any], Any]


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


def first_number(result: Any) -> Any:
    """The loss in a result: the value itself, or the first number of a tuple (``(loss, grads)``,
    ``lossFun``'s ``(loss, dW1, ...)``, ``forward``'s ``(outputs, loss)``)."""
    if isinstance(result, tuple | list):
        for item in result:
            if as_number(item) is not None:
                return item
    return result


class ObjectView(ModelView):
    """A user object read by roles: outputs, loss (its own, or the kit's of its outputs), gradient
    (returned, left on the object, or read off a training step) and training step."""

    def __init__(self, target: Any, slots: Any, *, private: bool, label: str, style: str,
                 outputs: Call | None = None, loss: Call | None = None, loss_reader: LossReader = first_number,
                 gradient: Call | None = None, gradient_reader: GradientReader | None = None,
                 step: Call | None = None, kit_loss: KitLoss | None = None) -> None:
        super().__init__(target, slots, private=private, label=label)
        self.style = style
        self.outputs_call, self.loss_call, self.loss_reader = outputs, loss, loss_reader
        self.gradient_call, self.gradient_reader = gradient, gradient_reader
        self.step_call = step
        self.kit_loss = kit_loss
        self.separate_backward = gradient is not None and gradient is not loss and not gradient.per_example
        self.train_method = step.name if step is not None else None
        self.own_gradient = gradient is not None

    @property
    def can_predict(self) -> bool:
        return self.outputs_call is not None

    def step_description(self) -> str:
        return self.step_call.describe() if self.step_call is not None else super().step_description()

    def _invoke(self, call: Call, batch: Batch, lr: float | None = None) -> list[Any]:
        """Results of ``call``: one for a whole-batch call, one per example otherwise."""
        if call.per_example:
            return self._call(call.name, call.each, batch, lr)
        return [self._call(call.name, call.whole, batch, lr)]

    def _predict(self, batch: Batch) -> Any:
        if self.outputs_call is None:
            raise ModelInterfaceError(f"{self.label} has no forward/predict method")
        results = [first_output(r) for r in self._invoke(self.outputs_call, batch)]
        if not self.outputs_call.per_example:
            return results[0]
        return np.stack([np.asarray(r, dtype=np.float64).reshape(-1) for r in results])

    def _loss(self, batch: Batch) -> float:
        if self.loss_call is None:
            if self.kit_loss is None:
                raise ModelInterfaceError(f"{self.label} has no loss and no outputs to score")
            unit = self.gradient_call or self.outputs_call
            return self.kit_loss(self.predict(batch), batch, per_example=unit is not None and unit.per_example)
        call = self.loss_call
        values = [as_loss_value(self.loss_reader(r), lambda: f"{self.label}.{call.describe()}")
                  for r in self._invoke(call, batch)]
        return values[0] if len(values) == 1 else float(np.mean(values))

    def _loss_parts(self, batch: Batch) -> tuple[str, Callable[[], Any], Callable[[Any], float]] | None:
        call, reader = self.loss_call, self.loss_reader
        if call is None or call.per_example:
            return None

        def name() -> str:
            return f"{self.label}.{call.describe()}"

        def value(result: Any) -> float:
            loss = reader(result)
            return loss if type(loss) is float else as_loss_value(loss, name)

        return call.name, call.bound(batch), value

    def _gradient_parts(self, batches: Sequence[Batch]
                        ) -> tuple[str, list[Callable[[], Any]], Callable[[Any], dict[str, np.ndarray]]] | None:
        call, reader = self.gradient_call, self.gradient_reader
        if call is None or reader is None or call.per_example:
            return None
        name, shapes = f"{self.label}.{call.describe()}", self.shapes

        def value(result: Any) -> dict[str, np.ndarray]:
            return match_gradients(reader(result), shapes, name)

        return call.name, [call.bound(batch) for batch in batches], value

    def _gradients(self, batch: Batch) -> dict[str, np.ndarray]:
        if self.gradient_call is None or self.gradient_reader is None:
            self.require_plain_step(batch)
            return self.inferred_gradients(batch, INFERENCE_LR)
        call = f"{self.label}.{self.gradient_call.describe()}"
        results = [match_gradients(self.gradient_reader(r), self.shapes, call)
                   for r in self._invoke(self.gradient_call, batch)]
        if len(results) == 1:
            return results[0]
        return {name: np.mean([g[name] for g in results], axis=0) for name in self.shapes}

    def _train(self, batch: Batch, lr: float) -> None:
        if self.step_call is None:
            raise ModelInterfaceError(f"{self.label} has no training step")
        self._invoke(self.step_call, batch, lr)


def first_output(result: Any) -> Any:
    """The outputs in a forward result: the array itself, or the first item of ``(outputs, cache)``."""
    if isinstance(result, tuple | list) and result and not isinstance(result[0], tuple | list):
        return result[0]
    return result
