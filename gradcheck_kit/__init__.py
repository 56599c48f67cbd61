"""gradcheck_kit: tells you *where* and *why* your hand-written backpropagation is wrong.

Public names are imported lazily (PEP 562), so ``import gradcheck_kit`` — and the pytest plugin — stay
cheap until a check actually runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

__all__ = [
    "Batch",
    "CODES",
    "Finding",
    "FunctionalModel",
    "GradcheckError",
    "InputError",
    "ModelCallError",
    "ModelInterfaceError",
    "Report",
    "__version__",
    "assert_gradients_ok",
    "diagnose",
    "layered",
    "load_batch",
    "load_model",
    "pair",
    "save_batch",
    "save_model",
    "wrap",
]

_WHERE = {
    "Batch": "batch",
    "CODES": "checks",
    "Finding": "findings",
    "FunctionalModel": "adapters",
    "GradcheckError": "errors",
    "InputError": "errors",
    "ModelCallError": "errors",
    "ModelInterfaceError": "errors",
    "Report": "report",
    "assert_gradients_ok": "testing",
    "diagnose": "diagnose",
    "layered": "adapters",
    "pair": "adapters",
    "load_batch": "files",
    "load_model": "files",
    "save_batch": "files",
    "save_model": "files",
    "wrap": "adapters",
}

if TYPE_CHECKING:
    from .adapters import FunctionalModel, layered, pair, wrap
    from .batch import Batch
    from .checks import CODES
    from .diagnose import diagnose
    from .errors import GradcheckError, InputError, ModelCallError, ModelInterfaceError
    from .files import load_batch, load_model, save_batch, save_model
    from .findings import Finding
    from .report import Report
    from .testing import assert_gradients_ok


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gradcheck_kit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
