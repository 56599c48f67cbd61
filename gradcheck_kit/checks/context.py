"""`Context`: what every check may read — the model view, the batch, settings and the measurements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..adapters.view import ModelView
    from ..batch import Batch
    from ..measurement import Measurement
    from ..numeric.comparison import TensorCheck
    from ..settings import Settings

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
        return [layer for i, layer in enumerate(back) if layer in failing and (i == 0 or back[i - 1] not in failing)]

    def inherited_from(self, origin: str) -> list[str]:
        """Failing layers nearer the input that follow ``origin`` without a passing layer between."""
        failing = set(self.failing_layers())
        back = list(reversed(self.layers))
        out: list[str] = []
        for layer in back[back.index(origin) + 1:]:
            if layer not in failing:
                break
            out.append(layer)
        return out
