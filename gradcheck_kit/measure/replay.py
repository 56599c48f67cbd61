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

import numpy as np

from ..model.batch import Batch
from ..model.view import ModelView

__all__ = ["OnlineReplay", "full_batch_losses", "online_replay", "restored", "sgd_step"]


@contextmanager
def restored(view: ModelView) -> Iterator[None]:
    """Run a block that moves the working parameters; put the baseline back afterwards."""
    saved = view.snapshot()
    try:
        yield
    finally:
        view.load(saved)


def sgd_step(view: ModelView, batch: Batch, lr: float) -> None:
    """One update at ``lr``: the model's own training method if it has one, else SGD on its gradient."""
    if view.can_train:
        view.train_step(batch, lr)
        return
    grads = view.gradients(batch)
    for name, array in view.params.items():
        np.subtract(array, lr * grads[name], out=array, casting="unsafe")


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


def online_replay(view: ModelView, batch: Batch, lr: float, passes: int,
                  probabilities: Callable[[np.ndarray], np.ndarray], first_step: int = 0) -> OnlineReplay:
    """Replay per-example SGD over the batch in order for ``passes`` passes on the private copy; the whole
    batch is predicted after each step from ``first_step`` on (and once just before it), not earlier: a
    whole-batch forward per step is most of the replay's cost."""
    labels = batch.labels()
    counts = np.bincount(labels, minlength=int(labels.max()) + 1)
    share, before, prior, changed, confidence = [], [], [], [], []
    with restored(view), np.errstate(all="ignore"):
        start = probabilities(view.predict(batch))
        predicted = start.argmax(axis=1)
        finite = True
        previous = None
        step = 0
        for _ in range(passes):
            for i in range(batch.size):
                label = int(labels[i])
                step += 1
                if step <= first_step:  # training only; the batch is predicted just before the first step counted
                    sgd_step(view, batch.take(slice(i, i + 1)), lr)
                    # a step that made the weights non-finite ends the replay, as a non-finite prediction does
                    finite = all(bool(np.isfinite(a).all()) for a in view.params.values())
                    if finite and step == first_step:
                        probs = probabilities(view.predict(batch))
                        finite = bool(np.all(np.isfinite(probs)))
                        predicted = probs.argmax(axis=1)
                    previous = label
                    if not finite:
                        break
                    continue
                before.append(float(np.mean(predicted == label)))
                sgd_step(view, batch.take(slice(i, i + 1)), lr)
                probs = probabilities(view.predict(batch))
                if not np.all(np.isfinite(probs)):
                    finite = False
                    break
                predicted = probs.argmax(axis=1)
                share.append(float(np.mean(predicted == label)))
                confidence.append(float(np.mean(probs[:, label])))
                prior.append(float(counts[label] / batch.size))
                changed.append(previous is not None and label != previous)
                previous = label
            if not finite:
                break
        end = probabilities(view.predict(batch)) if finite else start
        before = before[: len(share)]
    return OnlineReplay(
        share=np.array(share), confidence=np.array(confidence), share_before=np.array(before), prior=np.array(prior),
        label_changed=np.array(changed, dtype=bool),
        spread_start=float(np.mean(np.std(start, axis=0))),
        accuracy_end=float(np.mean(end.argmax(axis=1) == labels)) if finite else math.nan, finite=finite,
        first_step=first_step,
    )
