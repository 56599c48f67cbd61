"""`Context`: what every check may read — the model view, the batch, settings and the measurements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..activations import Activation, hidden_activations
from ..outputs import Outputs, read_outputs
from ..probes import DirectionalProbe, probe_directions

if TYPE_CHECKING:
    from ..adapters.view import ModelView
    from ..batch import Batch
    from ..measurement import Measurement
    from ..numeric.comparison import TensorCheck
    from ..settings import Settings

#: Random whole-model directions used to fit hypotheses about a wrong gradient.
HYPOTHESIS_PROBES = 4

__all__ = ["Context"]


@dataclass
class Context:
    """Inputs of the checks. ``layers`` runs from the input to the output; the view's working arrays
    are at the baseline whenever a check starts, and a check that moves them must put them back."""

    view: ModelView
    batch: Batch
    settings: Settings
    measurement: Measurement
    layers: tuple[str, ...]
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def outputs(self) -> Outputs | None:
        """Baseline classifier outputs, or ``None`` when the model has no (B, K >= 2) prediction."""
        if "outputs" not in self._cache:
            self._cache["outputs"] = read_outputs(self.view, self.batch)
        return self._cache["outputs"]

    @property
    def activations(self) -> list[Activation]:
        """Hidden activations the model caches during ``forward`` (empty if it keeps none)."""
        if "activations" not in self._cache:
            self._cache["activations"] = hidden_activations(self.view, self.batch.X)
        return self._cache["activations"]

    def cause_found(self, code: str) -> bool:
        """Whether the check that emits ``code`` finds it here (regardless of select/skip)."""
        from .registry import CHECKS

        key = f"found:{code}"
        if key not in self._cache:
            check = next((c for c in CHECKS.values() if code in c.codes), None)
            self._cache[key] = check is not None and any(f.code == code for f in check(self))
        return self._cache[key]

    @property
    def output_layer(self) -> str:
        return self.layers[-1]

    def hypothesis_probes(self) -> list[DirectionalProbe]:
        """Whole-model directions with central differences of the loss and of candidate losses of the
        outputs: ``ce`` (mean cross-entropy), ``mse`` (mean ½‖softmax − t‖², whose gradient is
        J_softmaxᵀ(o − t)) and ``elem`` (mean ⟨δ, z⟩ for the fixed elementwise delta (o − t)·o·(1 − o))."""
        if "probes" not in self._cache:
            out = self.outputs
            functions = {}
            if out is not None:
                B = self.batch.size
                t = out.targets
                p0 = out.probabilities
                delta_elem = (p0 - t) * p0 * (1 - p0)
                functions = {
                    "ce": out.mean_cross_entropy,
                    "mse": lambda raw: float(0.5 * np.sum((out.probs_of(raw) - t) ** 2) / B),
                    "elem": lambda raw: float(np.sum(delta_elem * out.logits_of(raw)) / B),
                }
            self._cache["probes"] = probe_directions(
                self.view, self.batch, self.measurement.analytic, functions,
                count=HYPOTHESIS_PROBES, rng=np.random.default_rng(self.settings.seed + 1), eps=self.settings.eps,
            )
        return self._cache["probes"]

    def tensors_of(self, layer: str) -> list[TensorCheck]:
        return [t for t in self.measurement.tensors if t.layer == layer]

    def failing_layers(self) -> list[str]:
        """Layers with a failing tensor, from the loss back to the input."""
        failing = {t.layer for t in self.measurement.tensors if t.verdict == "fail"}
        return [layer for layer in reversed(self.layers) if layer in failing]

    def origin_layers(self) -> list[str]:
        """Failing layers whose neighbour nearer the loss does not fail: where errors enter, walking back.

        In a chain of layers a wrong delta propagates towards the input, so a failing run of adjacent
        layers has one origin, the one nearest the loss.
        """
        failing = set(self.failing_layers())
        back = list(reversed(self.layers))
        if not self.view.is_chain:
            return [layer for layer in back if layer in failing]
        return [layer for i, layer in enumerate(back) if layer in failing and (i == 0 or back[i - 1] not in failing)]

    def inherited_from(self, origin: str) -> list[str]:
        """Failing layers nearer the input that follow ``origin`` without a passing layer between."""
        failing = set(self.failing_layers())
        back = list(reversed(self.layers))
        out: list[str] = []
        if not self.view.is_chain:
            return out
        for layer in back[back.index(origin) + 1:]:
            if layer not in failing:
                break
            out.append(layer)
        return out

    def isolated_culprit(self, layer: str) -> str | None:
        """Layered models: when ``layer``'s own backward is right (checked in isolation) but its parameters
        get a wrong gradient, the nearest layer towards the loss whose own backward is wrong."""
        isolated = self.measurement.isolated
        if not isolated or any(t.verdict == "fail" for t in isolated if t.layer == layer):
            return None
        order = list(dict.fromkeys(t.layer for t in isolated))
        if layer not in order:
            return None
        for other in order[order.index(layer) + 1:]:
            if any(t.verdict == "fail" for t in isolated if t.layer == other):
                return other
        return None
