"""Attribution: where an error enters and where it is only inherited, computed once for everyone.

In a chain of layers a wrong delta propagates towards the input, so a failing run of adjacent layers
has one origin, the one nearest the loss; the failing layers after it (towards the input) inherit its
error. Where the model is no chain (the gates of a recurrent layer feed each other through time, so one
wrong gate makes every gate's gradient wrong), the origins are the failing layers whose own evidence
stands out (norm ratio furthest from 1). For layered models, each layer's own backward was also
checked in isolation: a layer whose own backward is right but whose parameters get a wrong gradient
inherits its error from the nearest layer towards the loss whose own backward fails (often a
parameter-free one, such as an activation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..numeric.comparison import TensorCheck

__all__ = ["Attribution", "LayerSummary", "Role", "attribute"]

Role = Literal["origin", "inherited", "passing", "unjudged"]


@dataclass(frozen=True)
class LayerSummary:
    """One layer's verdict. ``role`` is ``"origin"`` where an error enters, ``"inherited"`` where it only
    propagates from a layer nearer the loss, ``"passing"`` where the layer agrees and ``"unjudged"``
    where nothing could be judged."""

    layer: str
    params: tuple[str, ...]
    verdict: str
    role: Role = "passing"


@dataclass(frozen=True)
class Attribution:
    """Failing layers, origins and inheritance; layers run from the loss back to the input."""

    failing: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    inherited: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    culprits: Mapping[str, str] = field(default_factory=dict)
    layers: tuple[LayerSummary, ...] = ()
    first_wrong_layer: str | None = None
    #: False where layers feed each other (recurrent gates): origins are by their own evidence, not order.
    chain: bool = True

    def inherited_from(self, origin: str) -> tuple[str, ...]:
        """Failing layers nearer the input that follow ``origin`` without a passing layer between."""
        return self.inherited.get(origin, ())

    def culprit(self, layer: str) -> str | None:
        """The layer whose own backward is wrong, when ``layer``'s own is right (layered models)."""
        return self.culprits.get(layer)


def _verdict(tensors: Sequence[TensorCheck]) -> str:
    verdicts = {t.verdict for t in tensors}
    return "fail" if "fail" in verdicts else ("pass" if "pass" in verdicts else "inconclusive")


def _culprits(isolated: Sequence[TensorCheck], failing: Sequence[str]) -> dict[str, str]:
    """For each failing layer whose own backward passes in isolation, the nearest layer towards the loss
    whose own backward fails."""
    order = list(dict.fromkeys(t.layer for t in isolated))
    bad = {t.layer for t in isolated if t.verdict == "fail"}
    out = {}
    for layer in failing:
        if layer not in order or layer in bad:
            continue
        nearer = [other for other in order[order.index(layer) + 1:] if other in bad]
        if nearer:
            out[layer] = nearer[0]
    return out


def _deviation(tensors: Sequence[TensorCheck]) -> float:
    """How far a layer's failing tensors are from right: the larger of |log ‖analytic‖/‖numeric‖| (a wrong
    size) and 1 − cosine (a wrong direction; 2 for a flipped sign); their relative error when both are tiny."""
    worst = 0.0
    for t in tensors:
        if t.verdict != "fail":
            continue
        ratio, cosine = t.norm_ratio, t.cosine
        size = abs(math.log(ratio)) if math.isfinite(ratio) and ratio > 0 else math.inf
        turn = 1.0 - cosine if math.isfinite(cosine) else 0.0
        away = max(size, turn)
        worst = max(worst, away if away > 1e-3 else min(t.max_rel_error, 1.0) * 1e-3)
    return worst


def _standing_out(failing: Sequence[str], by_layer: Mapping[str, Sequence[TensorCheck]]) -> list[str]:
    """Where a model is not a chain (the gates of a recurrent layer feed each other through time), the
    failing layers whose own evidence stands out: within a factor 2 of the largest deviation."""
    deviation = {layer: _deviation(by_layer[layer]) for layer in failing}
    top = max(deviation.values(), default=0.0)
    return sorted((layer for layer in failing if deviation[layer] >= top / 2), key=lambda k: -deviation[k])


def attribute(tensors: Sequence[TensorCheck], isolated: Sequence[TensorCheck], layers: Sequence[str], *,
              chain: bool) -> Attribution:
    """Attribute the failures in ``tensors`` to layers (``layers`` from the input to the output)."""
    back = list(reversed(layers))
    by_layer = {layer: [t for t in tensors if t.layer == layer] for layer in back}
    failing = [layer for layer in back if any(t.verdict == "fail" for t in by_layer[layer])]
    if chain:
        origins = [layer for i, layer in enumerate(back) if layer in failing and (i == 0 or back[i - 1] not in failing)]
    else:
        origins = _standing_out(failing, by_layer)
    inherited: dict[str, tuple[str, ...]] = {}
    for origin in origins if chain else ():
        run = []
        for layer in back[back.index(origin) + 1:]:
            if layer not in failing:
                break
            run.append(layer)
        inherited[origin] = tuple(run)
    culprits = _culprits(isolated, failing)
    downstream = {layer for run in inherited.values() for layer in run}
    if not chain:  # every failing layer that does not stand out is wrong through the ones that do
        downstream = {layer for layer in failing if layer not in origins}
    summaries = []
    for layer in back:
        if not by_layer[layer]:
            continue
        verdict = _verdict(by_layer[layer])
        role: Role = "unjudged" if verdict == "inconclusive" else "passing"
        if layer in origins:
            role = "inherited" if layer in culprits else "origin"
        elif layer in downstream:
            role = "inherited"
        summaries.append(LayerSummary(layer, tuple(t.param for t in by_layer[layer]), verdict, role))
    own = next((t.layer for t in reversed(isolated) if t.verdict == "fail"), None)
    first = own if own is not None else (origins[0] if origins else None)
    return Attribution(tuple(failing), tuple(origins), inherited, culprits, tuple(summaries), first, chain)
