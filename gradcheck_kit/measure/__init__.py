"""Measure stage: drives `numeric` over a model view and records what it finds.

Holds the measurement (`measurement`: side effects, baseline, analytic gradient, noise, every tensor
compared), the isolated check of each layer of a layered model (`isolated`), directional derivatives
over all parameters for testing hypotheses (`directions`), the model's observed `outputs` and hidden
`activations`, training `replay` on the private copy, Hessian-vector products on the model
(`hessian`), and `attribution` — where an error enters and where it is only inherited, computed once
and read by the checks and the report.

May import `model`, `numeric`, `settings` and `errors`; nothing from `checks` or `report`.
"""

from __future__ import annotations

from .attribution import Attribution, LayerSummary, attribute
from .measurement import Measurement, expected_evaluations, measure

__all__ = ["Attribution", "LayerSummary", "Measurement", "attribute", "expected_evaluations", "measure"]
