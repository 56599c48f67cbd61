"""gradcheck_kit: tells you *where* and *why* your hand-written backpropagation is wrong."""

from __future__ import annotations

__version__ = "0.1.0.dev0"

from .adapters import FunctionalModel, wrap
from .batch import Batch
from .checks import CODES
from .diagnose import diagnose
from .errors import GradcheckError, InputError, ModelCallError, ModelInterfaceError
from .files import load_batch, load_model, save_batch, save_model
from .findings import Finding
from .report import Report

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
    "diagnose",
    "load_batch",
    "load_model",
    "save_batch",
    "save_model",
    "wrap",
]
