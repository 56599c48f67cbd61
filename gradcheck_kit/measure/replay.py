"""Training replays on the private copy: full-batch steps and the question's one-example-at-a-time loop.

Every replay starts from the baseline parameters and puts them back afterwards. A model that trains
itself (``train``/``step``/``update``) is stepped with its own method; otherwise plain SGD with the
analytic gradient is applied.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..model.batch import Batch
from ..model.loss_loop import gradient_loop
from ..model.view import ModelView
from ..numeric.axpy import add_scaled
from ..numeric.finite import all_finite

__all__ = ["OnlineReplay", "full_batch_losses", "online_replay", "restored", "sgd_step"]


@contextmanager
def restored(view: ModelView) -> Iterator[None]:
    """Run a block that moves the working parameters; put the baseline back afterwards."""
    saved = view.snapshot()
    try:
        yield
    finally:
        view.load(saved)


def sgd_step(view: ModelView, batch: Batch, lr: float,
             gradients: Callable[[], dict[str, np.ndarray]] | None = None) -> None:
    """One update at ``lr``: the model's own training method if it has one, else SGD on its gradient
    (``gradients()``, as ``view.gradients(batch, copy=False)``, when given)."""
    if view.can_train:
        view.train_step(batch, lr)
        return
    # possibly the model's own arrays: read, never written
    grads = gradients() if gradients is not None else view.gradients(batch, copy=False)
    for name, array in view.params.items():  # a float32 parameter (one the kit could not swap) takes it rounded
        add_scaled(array, -lr, grads[name])


#: Warm-up steps between two looks at whether the weights went non-finite.
FINITE_EVERY = 8


def full_batch_losses(view: ModelView, batch: Batch, lr: float, steps: int) -> list[float]:
    """Loss before and after each of ``steps`` full-batch updates (stops early at a non-finite loss)."""
    losses = [view.loss(batch)]
    with restored(view), np.errstate(all="ignore"):
        for _ in range(steps):
            sgd_step(view, batch, lr)
            losses.append(view.loss(batch))
            if not math.isfinite(losses[-1]):
                break
    return losses


@dataclass(frozen=True)
class OnlineReplay:
    """The question's loop: one step per example, predicting the whole batch after each step.

    Steps before ``first_step`` only train (their predictions are not looked at); ``share[i]`` is the
    fraction of the batch predicted as the label just trained at step ``first_step + i``;
    ``share_before[i]`` the same fraction just before that step; ``prior[i]`` that label's frequency
    in the batch; ``confidence[i]`` the mean probability the batch gives that label after the step (a
    collapse is confident; an undecided network with near-uniform outputs flips its argmax on tiny
    steps without being confident); ``spread_start`` the mean over classes of the across-example std of the
    probabilities before the replay (how much the output depends on the input).
    """

    share: np.ndarray
    confidence: np.ndarray
    share_before: np.ndarray
    prior: np.ndarray
    label_changed: np.ndarray
    spread_start: float
    accuracy_end: float
    finite: bool
    first_step: int = 0


def _warm_up(view: ModelView, singles: list[Batch], lr: float, steps: int,
             gradient_of: Callable[[int], dict[str, np.ndarray]]) -> bool:
    """The first ``steps`` per-example steps, training only; False as soon as the weights go non-finite
    (which ends the replay, as a non-finite prediction does)."""
    for step in range(steps):
        i = step % len(singles)
        sgd_step(view, singles[i], lr, partial(gradient_of, i))
        # every FINITE_EVERY steps and at the end (NaN and inf persist through later steps)
        if (step % FINITE_EVERY == FINITE_EVERY - 1 or step == steps - 1) and not all_finite(view.params.values()):
            return False
    return True


def _label_changes(labels: np.ndarray, steps: int) -> np.ndarray:
    """For each of ``steps`` steps cycling through ``labels``: whether its label differs from the step
    before (the very first step has none)."""
    order = labels[np.arange(steps) % labels.size]
    changes = np.zeros(steps, dtype=bool)
    changes[1:] = order[1:] != order[:-1]
    return changes


def online_replay(view: ModelView, batch: Batch, lr: float, steps: int,
                  probabilities: Callable[[np.ndarray], np.ndarray], first_step: int = 0, *,
                  give_up_below: float | None = None) -> OnlineReplay:
    """Replay ``steps`` per-example SGD steps on the private copy, cycling through the batch in order; the
    whole batch is predicted after each step from ``first_step`` on (and once just before it), not
    earlier: a whole-batch forward per step is most of the replay's cost.

    ``give_up_below``: stop as soon as the median ``share`` over the steps whose label differs from the
    previous one (over every counted step if none does) can no longer reach this value — more than half
    of those steps already fell below it — and leave ``accuracy_end`` NaN."""
    labels = batch.labels()
    counts = np.bincount(labels, minlength=int(labels.max()) + 1)
    share, before, prior, changed, confidence = [], [], [], [], []
    changes = _label_changes(labels, steps)[first_step:]
    judged = int(changes.sum()) or steps - first_step  # the steps the median is taken over
    below = 0
    stopped = False
    singles = [batch.take(slice(i, i + 1)) for i in range(min(steps, batch.size))]
    with restored(view), np.errstate(all="ignore"), gradient_loop(view, singles) as gradient_of:
        start = probabilities(view.predict(batch))
        predicted = start.argmax(axis=1)
        finite = True
        if first_step:  # training only; the batch is predicted just before the first step counted
            finite = _warm_up(view, singles, lr, first_step, gradient_of)
            if finite:
                probs = probabilities(view.predict(batch))
                finite = bool(np.all(np.isfinite(probs)))
                predicted = probs.argmax(axis=1)
        for step in range(first_step + 1, steps + 1) if finite else ():
            i = (step - 1) % batch.size
            label = int(labels[i])
            before.append(np.count_nonzero(predicted == label) / predicted.size)
            sgd_step(view, singles[i], lr, partial(gradient_of, i))
            probs = probabilities(view.predict(batch))
            if not np.all(np.isfinite(probs)):
                finite = False
                break
            predicted = probs.argmax(axis=1)
            share.append(np.count_nonzero(predicted == label) / predicted.size)
            confidence.append(float(probs[:, label].sum()) / predicted.size)
            prior.append(float(counts[label] / batch.size))
            changed.append(bool(changes[step - 1 - first_step]))
            if give_up_below is not None and share[-1] < give_up_below and (changed[-1] or not changes.any()):
                below += 1
                if below > judged / 2:  # the median over the judged steps is below it, whatever comes next
                    stopped = True
                    break
        end = probabilities(view.predict(batch)) if finite and not stopped else None
        before = before[: len(share)]
    return OnlineReplay(
        share=np.array(share), confidence=np.array(confidence), share_before=np.array(before), prior=np.array(prior),
        label_changed=np.array(changed, dtype=bool),
        spread_start=float(np.mean(np.std(start, axis=0))),
        accuracy_end=float(np.mean(end.argmax(axis=1) == labels)) if end is not None else math.nan, finite=finite,
        first_step=first_step,
    )
