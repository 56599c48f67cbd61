"""Which standard loss a model is trained with, read from its own gradient.

A model without a loss method still says which loss it descends: its gradient (returned, or read off
its training step) is the gradient of that loss. For every standard loss of its outputs — softmax
cross-entropy, binary cross-entropy, ½‖o − t‖², ‖o − t‖², each summed or averaged over the examples,
and the per-entry means — the directional derivative along a random direction of each parameter
tensor is measured by finite differences of the *outputs* (one set of forward passes serves every
candidate) and compared with the model's gradient along the same direction.

The loss that agrees on the most tensors is used, and the notes say so. A bug upstream of the output
leaves the output layer's tensors agreeing with the right loss, so the bug is still reported against
it; when no standard loss agrees on any tensor, the kit does not guess — it asks for ``loss=``.
The same evidence decides mean or sum when the user names a per-example loss (``loss="quadratic"``)
for a model whose gradient sums over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ModelInterfaceError
from ..numeric.losses import is_probabilities
from .batch import Batch
from .kit_loss import STANDARD_LOSSES, KitLoss, standard_loss
from .view import ModelView

__all__ = ["identify_loss", "loss_candidates"]

#: Relative step along a unit direction (times the tensor's RMS size, at least 1).
STEP = 1e-4
#: A candidate agrees on a tensor when its directional derivative is the model's within this.
AGREE = 1e-4
#: Directional derivatives smaller than this (relative to the largest) carry no evidence.
NEGLIGIBLE = 1e-9


@dataclass(frozen=True)
class Evidence:
    """A candidate loss and how many tensors' gradients it explains (of those with evidence)."""

    loss: KitLoss
    agree: int
    closest: float  # the smallest relative disagreement over the tensors


def loss_candidates(outputs: np.ndarray, batch: Batch, named: KitLoss | None = None) -> list[KitLoss]:
    """Standard losses that can score ``outputs`` (B, K) against the batch's targets."""
    if named is not None and named.name in STANDARD_LOSSES:
        return [replace(named, reduction=r) for r in ("mean", "sum")]
    K = outputs.shape[1]
    targets = batch.target_rows
    labels = targets.ndim == 1 and targets.dtype.kind in "iu"
    one_hot = targets.ndim == 2 and targets.shape[1] == K and np.all((targets == 0) | (targets == 1))
    unit = bool(np.all((outputs > 0) & (outputs < 1))) and (labels or bool(np.all((targets >= 0) & (targets <= 1))))
    names = []
    if K >= 2 and (labels or one_hot or is_probabilities(np.asarray(targets, dtype=np.float64))):
        names.append("cross-entropy")
    if unit:
        names.append("binary cross-entropy")
    names += ["half squared error", "squared error"]
    source = "identified from the model's gradient"
    out = [standard_loss(n, reduction=r, source=source) for n in names for r in ("mean", "sum")]
    out += [standard_loss("mse", source=source), standard_loss("half_mse", source=source)]
    if unit:
        out.append(standard_loss("bce", source=source))
    return out


def _directional(view: ModelView, batch: Batch, name: str, direction: np.ndarray, h: float) -> list[np.ndarray]:
    """Outputs at w ± h·d and w ± 2h·d (the working array is put back)."""
    array = view.params[name]
    saved = array.copy()
    outs = []
    try:
        for t in (h, -h, 2 * h, -2 * h):
            np.copyto(array, saved + t * direction, casting="unsafe")
            outs.append(view.predict(batch))
    finally:
        np.copyto(array, saved)
    return outs


def _score(candidate: KitLoss, batch: Batch, probes: list[tuple[float, float, list[np.ndarray]]],
           scale: float, agree_within: float = AGREE) -> Evidence | None:
    agree, closest = 0, np.inf
    for analytic, h, outs in probes:
        try:
            f = [candidate(o, batch) for o in outs]
        except Exception:
            return None
        numeric = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h)
        if not np.isfinite(numeric):
            return None
        size = max(abs(analytic), abs(numeric))
        if size <= NEGLIGIBLE * scale:
            continue
        gap = abs(numeric - analytic) / size
        closest = min(closest, gap)
        agree += gap <= agree_within
    return Evidence(candidate, agree, float(closest))


def identify_loss(view: ModelView, batch: Batch, *, seed: int = 0) -> None:
    """Replace the view's provisional kit loss by the standard loss its gradient is the gradient of."""
    provisional: KitLoss | None = view.kit_loss
    if provisional is None or not provisional.undecided:
        return
    named = provisional if provisional.undecided == "reduction" else None
    outputs = view.predict(batch)
    candidates = loss_candidates(outputs, batch, named)
    rng = np.random.default_rng(seed)
    grads = view.gradients(batch)
    probes = []
    for name, array in view.params.items():
        direction = rng.standard_normal(array.shape)
        direction /= np.linalg.norm(direction) or 1.0
        h = STEP * max(1.0, float(np.sqrt(np.mean(array**2))) if array.size else 1.0)
        probes.append((float(np.sum(grads[name] * direction)), h, _directional(view, batch, name, direction, h)))
    scale = max((abs(analytic) for analytic, *_ in probes), default=0.0) or 1.0
    # parameters that stay float32 (not swappable for float64 copies) round at 1e-7: looser agreement
    within = AGREE if all(a.dtype == np.float64 for a in view.params.values()) else 3e-2
    scored = [e for e in (_score(c, batch, probes, scale, within) for c in candidates) if e is not None]
    best = max(scored, key=lambda e: (e.agree, -candidates.index(e.loss)), default=None)
    if named is not None:
        chosen = best.loss if best is not None and best.agree else named
        view.kit_loss = replace(chosen, undecided="")  # named by the user: a sum is worth its warning
        sums = chosen.reduction == "sum"
        view.notes.add(f"loss: {view.kit_loss.describe()}"
                       + (", summed over the examples: the model's gradient is that of the sum (were the loss an "
                          "average, the gradient would lack its 1/B)" if sums else ""))
        return
    if best is None or best.agree == 0:
        paired = _natural_pairing(candidates, outputs, batch)
        if paired is None:
            raise _unidentified(view, scored)
        view.kit_loss = replace(paired, undecided="", source="the loss of class targets")
        view.notes.add(
            f"no loss method, and no standard loss agrees with the model's gradient on any tensor: the kit uses the "
            f"mean cross-entropy of {_outputs_named(view, outputs, paired)}, the loss that goes with class targets; "
            "pass loss= if the model is trained with another loss")
        return
    view.kit_loss = replace(best.loss, undecided="", identified=True)
    with_evidence = sum(1 for analytic, *_ in probes if abs(analytic) > NEGLIGIBLE * scale)
    view.notes.add(
        f"no loss method: the kit uses the {best.loss.describe()} of {_outputs_named(view, outputs, best.loss)}: the "
        f"model's gradient agrees with it on {best.agree} of {with_evidence} tensors, and with no other standard loss "
        "on more; pass loss= if the model is trained with another loss")


def _natural_pairing(candidates: list[KitLoss], outputs: np.ndarray, batch: Batch) -> KitLoss | None:
    """The loss that goes with the outputs when the gradient says nothing: cross-entropy, for softmax
    outputs (probability rows) against class targets (labels or one-hot). Any other outputs have no
    single natural loss (cross-entropy or squared error, or one of the user's own), so there is none."""
    targets = batch.target_rows
    classes = (targets.ndim == 1 and targets.dtype.kind in "iu") or (
        targets.ndim == 2 and bool(np.all((targets == 0) | (targets == 1))))
    if not (classes and is_probabilities(outputs)):
        return None
    return next((c for c in candidates if c.name == "cross-entropy" and c.reduction == "mean"), None)


def _unidentified(view: ModelView, scored: list[Evidence]) -> ModelInterfaceError:
    closest = min(scored, key=lambda e: e.closest, default=None)
    near = (f" (closest: {closest.loss.describe()}, off by {closest.closest:.2g} relative)"
            if closest is not None and np.isfinite(closest.closest) else "")
    return ModelInterfaceError(
        f"{view.label} has no loss method, and the gradient of none of its tensors is that of a standard loss of its "
        f"outputs{near}; the kit cannot tell which loss it is trained with: name it with loss=, e.g. loss='mse', "
        "loss='quadratic' or loss=your_loss_function")


def _outputs_named(view: ModelView, outputs: np.ndarray, loss: KitLoss) -> str:
    call = getattr(view, "outputs_call", None)
    method = f"{call.name}()'s" if call is not None else "the model's"
    if loss.name != "cross-entropy":
        return f"{method} outputs"
    return f"{method} {'probabilities' if is_probabilities(outputs) else 'scores (softmax applied by the kit)'}"
