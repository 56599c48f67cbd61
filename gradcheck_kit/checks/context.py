"""`Context`: everything a check may read — the view, the batch, the settings, the measurement, the
attribution, the findings already made, and shared evidence computed once on first use."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..errors import GradcheckError
from ..measure.activations import Activation, hidden_activations
from ..measure.attribution import Attribution
from ..measure.directions import DirectionalDerivative, model_directions
from ..measure.measurement import Measurement
from ..measure.outputs import Outputs, read_outputs
from ..measure.single import entry_gradients
from ..model.batch import Batch
from ..model.view import ModelView
from ..numeric.comparison import TensorCheck
from ..settings import Settings
from . import deltas, evidence
from .findings import Finding

__all__ = ["HYPOTHESIS_DIRECTIONS", "Context"]

#: Random whole-model directions used to fit hypotheses about a wrong gradient.
HYPOTHESIS_DIRECTIONS = 4
#: Input positions of the output weight measured for one example (every output at each).
WEIGHT_COLUMNS = 4


class Context:
    """Inputs of the checks. ``layers`` runs from the input to the output; the view's working arrays are
    at the baseline whenever a check starts, and a check that moves them puts them back.

    ``findings`` holds every finding made so far in this run, suppressed or not; a check that reads
    another check's codes (declared with ``reads=``) runs after it and asks `found`.
    """

    def __init__(self, *, view: ModelView, batch: Batch, settings: Settings, measurement: Measurement,
                 layers: tuple[str, ...], attribution: Attribution) -> None:
        self.view = view
        self.batch = batch
        self.settings = settings
        self.measurement = measurement
        self.layers = layers
        self.attribution = attribution
        self.findings: list[Finding] = []

    def found(self, code: str) -> bool:
        """Whether a check that ran before this one made a finding with ``code``."""
        return any(f.code == code for f in self.findings)

    # -- the measurement, by layer --------------------------------------------------------------------
    @property
    def output_layer(self) -> str:
        return self.layers[-1]

    def tensors_of(self, layer: str) -> list[TensorCheck]:
        return [t for t in self.measurement.tensors if t.layer == layer]

    @property
    def gradient_is_wrong(self) -> bool:
        return bool(self.attribution.origins)

    # -- shared evidence, computed once ---------------------------------------------------------------
    @cached_property
    def outputs(self) -> Outputs | None:
        """Baseline classifier outputs, or ``None`` when the model has no (B, K >= 2) prediction."""
        return read_outputs(self.view, self.batch)

    @cached_property
    def activations(self) -> list[Activation]:
        """Hidden activations the model caches during ``forward`` (empty if it keeps none)."""
        return hidden_activations(self.view, self.batch)

    @cached_property
    def output_models(self) -> list[deltas.OutputModel]:
        """Candidate output activations and losses, identified from the model's own loss value."""
        out = self.outputs
        if out is None:
            return []
        return deltas.identify(out.raw, out.targets, self.measurement.base_loss)

    @property
    def output_model(self) -> deltas.OutputModel | None:
        """The output model the evidence supports (see `delta_fits`)."""
        return self._fitted[0]

    @cached_property
    def directions(self) -> list[DirectionalDerivative]:
        """Whole-model directions with derivatives of the loss and of candidate losses of the outputs."""
        out = self.outputs
        functions = {} if out is None else deltas.delta_functions(self.output_models, out.raw, out.targets)
        return model_directions(self.view, self.batch, self.measurement.analytic, functions,
                                count=HYPOTHESIS_DIRECTIONS, rng=np.random.default_rng(self.settings.seed + 1),
                                eps=self.settings.eps)

    @property
    def delta_fits(self) -> dict[str, deltas.DeltaFit]:
        """Output-delta hypotheses fitted over every source of evidence (see `deltas.delta_fits`)."""
        return self._fitted[1]

    @cached_property
    def _fitted(self) -> tuple[deltas.OutputModel | None, dict[str, deltas.DeltaFit]]:
        out = self.outputs
        if out is None or not self.output_models:
            return None, {}
        bias = deltas.output_bias(out.raw.shape[1], self.tensors_of(self.output_layer))
        return deltas.delta_fits(self.output_models, out.raw, out.targets, bias, self.measurement.analytic,
                                 self.directions, self._one_example(out.raw, out.targets))

    def _one_example(self, o: np.ndarray, t: np.ndarray) -> deltas.OneExample | None:
        """The output weight's gradient for the example farthest from its target, at every output and the
        few input positions with the largest gradient (see `deltas`)."""
        found = deltas.output_weight(o.shape[1], self.tensors_of(self.output_layer))
        if found is None or self.batch.layout == "sequence" or self.batch.size < 1:
            return None
        weight, k_axis = found
        example = int(np.argmax(np.sum((o - t) ** 2, axis=1)))
        analytic = np.abs(self.measurement.analytic[weight.param])
        columns = np.argsort(-analytic.sum(axis=k_axis))[:WEIGHT_COLUMNS]
        k, j = np.meshgrid(np.arange(o.shape[1]), columns, indexing="ij")
        index = (k.reshape(-1), j.reshape(-1)) if k_axis == 0 else (j.reshape(-1), k.reshape(-1))
        try:
            grads = entry_gradients(self.view, self.batch.take(slice(example, example + 1)), weight.param, index,
                                    eps=self.settings.eps)
        except GradcheckError:
            return None
        return grads, k_axis, example

    @cached_property
    def weight_decay(self) -> evidence.WeightDecay:
        return evidence.weight_decay_fit(self.measurement.tensors, self.view.params)

    @cached_property
    def inputs(self) -> evidence.InputScale:
        return evidence.input_scale(self.batch.rows)

    @cached_property
    def curvature(self) -> tuple[float, int]:
        """Top Hessian eigenvalue of what the analytic gradient descends, and the gradient calls it took."""
        return evidence.curvature(self.view, self.batch, seed=self.settings.seed, eps=self.settings.eps)
