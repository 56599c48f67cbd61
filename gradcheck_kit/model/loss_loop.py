"""`loss_loop`: the loss evaluated many times in a row, at little cost beyond the model's own.

`ModelView.loss` does for every call all that one call may need: it sets numpy's error handling to the
caller's, looks whether the model draws from numpy's global generator, builds the call's arguments,
counts the call and turns the model's error into the kit's. An exhaustive check calls it tens of
thousands of times with only one entry moved in between, so inside `loss_loop` what does not change
between those calls is done once: the caller's error handling is set for the whole loop, the call and
its arguments are resolved once (`ModelView._loss_parts`) and the calls are counted at the end. A
model's error still comes out as the kit's `ModelCallError` naming the call and its number, as
`ModelView.loss` gives it. When a call needs more — a model known to write into its inputs or its
weights, calls pinned to one state of the global generator, calls still watched for global random
draws, or no single plain call giving the loss (layers, torch, per-example loops) — each evaluation is
`ModelView.loss` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import GradcheckError
from .batch import Batch
from .view import DRAW_WATCH, ModelView

__all__ = ["gradient_loop", "loss_loop"]


@contextmanager
def loss_loop(view: ModelView, batch: Batch) -> Iterator[Callable[[], float]]:
    """A function that evaluates ``view``'s loss on ``batch`` as `ModelView.loss` does, for use inside
    this context only (numpy's error handling is the caller's in it)."""
    parts = view._loss_parts(batch) if not (view.copy_inputs or view.protect_params or view.rebind_params) else None
    if parts is None or view._random_state is not None or not (view.draws_global_random
                                                               or view.calls[parts[0]] >= DRAW_WATCH):
        yield lambda: view.loss(batch)
        return
    what, call, value = parts
    counted = _Counted(view, what)

    def loss() -> float:
        return value(counted(call))

    view._last_batch = batch
    try:
        with np.errstate(**view.user_errstate):  # the model's code computes as the caller set numpy up
            yield loss
    finally:
        counted.close()


class _Counted:
    """Calls of one kind made in a row outside `ModelView._call`: added to the view's count when the run
    ends, and a model's error named as `ModelView._call` names it, with its call number."""

    def __init__(self, view: ModelView, what: str) -> None:
        self.view, self.what, self.made = view, what, 0

    def __call__(self, call: Callable[[], Any]) -> Any:
        self.made += 1
        try:
            return call()
        except GradcheckError:
            raise
        except Exception as exc:
            self.close()
            raise self.view._call_error(self.what, exc) from exc

    def close(self) -> None:
        self.view.calls[self.what] += self.made
        self.made = 0


@contextmanager
def gradient_loop(view: ModelView, batches: list[Batch]) -> Iterator[Callable[[int], dict[str, np.ndarray]]]:
    """A function giving ``view.gradients(batches[i], copy=False)`` — the model's own arrays, to be read at
    once and never written — for use inside this context only, with what `loss_loop` saves per call
    (a training replay takes a hundred single-example gradients in a row). numpy's error handling is the
    caller's around the model's code only: what the caller computes with the gradients keeps its own."""
    parts = None if not batches or view.copy_inputs or view.protect_params or view.rebind_params \
        or view._random_state is not None \
        else view._gradient_parts(batches)
    if parts is None or not (view.draws_global_random or view.calls[parts[0]] >= DRAW_WATCH):
        yield lambda i: view.gradients(batches[i], copy=False)
        return
    what, calls, value = parts
    counted, errstate = _Counted(view, what), view.user_errstate

    def gradients(i: int) -> dict[str, np.ndarray]:
        call = calls[i]

        def model_call() -> Any:
            with np.errstate(**errstate):
                return call()

        return value(counted(model_call))

    view._last_batch = batches[-1]
    try:
        yield gradients
    finally:
        counted.close()
