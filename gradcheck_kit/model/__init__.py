"""Model stage: any supported user object → one `ModelView` with declared capabilities.

Holds the readers for every model style (`adapt`), the views (`view`, `objects`, `training`,
`functional`, `layers`, `torch`), how parameters are found and named (`discovery`, `slots`,
`naming`), the validated `batch`, the guard that restores the user's model (`guard`), the inspection
of side effects of the model's calls (`side_effects`), the `notes` a view records, and the loss evaluated
many times in a row at little cost (`loss_loop`).

May import `numeric` and `errors`; nothing from `settings`, `measure`, `checks` or `report`. Only code in
this package touches a view's private members.
"""

from __future__ import annotations

from .adapt import adapt
from .batch import Batch, as_batch
from .functional import FunctionalModel, wrap
from .guard import ModelGuard, guard_model
from .layers import FunctionPair, LayeredModel, layered, pair
from .view import Capabilities, ModelView

__all__ = [
    "Batch",
    "Capabilities",
    "FunctionPair",
    "FunctionalModel",
    "LayeredModel",
    "ModelGuard",
    "ModelView",
    "adapt",
    "as_batch",
    "guard_model",
    "layered",
    "pair",
    "wrap",
]
