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

import numpy as np

from ..errors import GradcheckError
from .batch import Batch
from .view import DRAW_WATCH, ModelView

__all__ = ["loss_loop"]


@contextmanager
def loss_loop(view: ModelView, batch: Batch) -> Iterator[Callable[[], float]]:
    """A function that evaluates ``view``'s loss on ``batch`` as `ModelView.loss` does, for use inside
    this context only (numpy's error handling is the caller's in it)."""
    parts = view._loss_parts(batch) if not (view.copy_inputs or view.protect_params) else None
    if parts is None or view._random_state is not None or not (view.draws_global_random
                                                               or view.calls[parts[0]] >= DRAW_WATCH):
        yield lambda: view.loss(batch)
        return
    what, call, value = parts
    calls = view.calls
    made = 0

    def loss() -> float:
        nonlocal made
        made += 1
        try:
            result = call()
        except GradcheckError:
            raise
        except Exception as exc:  # the model's own error, named as `ModelView._call` names it
            calls[what] += made
            made = 0
            raise view._call_error(what, exc) from exc
        return value(result)

    view._last_batch = batch
    try:
        with np.errstate(**view.user_errstate):  # the model's code computes as the caller set numpy up
            yield loss
    finally:
        calls[what] += made
