"""gradcheck_kit: tells you *where* and *why* your hand-written backpropagation is wrong.

The few names a user needs are here; file helpers are in `gradcheck_kit.io`. Names are imported lazily
(PEP 562), so ``import gradcheck_kit`` — and the pytest plugin — stay cheap until a check runs.

Layout, one folder per stage of a run: ``model`` (any user object → one view) → ``numeric`` (finite
differences on arrays) → ``measure`` (numeric driven over the view; attribution) → ``checks`` (named
checks yielding findings) → ``report`` (data, rendering, formats); ``run`` owns a run (``diagnose``); ``cli``,
``io``, ``testing`` and ``pytest_plugin`` are the ways in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

__all__ = [
    "Finding",
    "GradcheckError",
    "InputError",
    "MissingExtraError",
    "ModelCallError",
    "ModelInterfaceError",
    "Report",
    "__version__",
    "assert_gradients_ok",
    "codes",
    "diagnose",
    "layered",
    "pair",
    "wrap",
]

_WHERE = {
    "Finding": "checks.findings",
    "GradcheckError": "errors",
    "InputError": "errors",
    "MissingExtraError": "errors",
    "ModelCallError": "errors",
    "ModelInterfaceError": "errors",
    "Report": "report.data",
    "assert_gradients_ok": "testing",
    "diagnose": "run",
    "layered": "model",
    "pair": "model",
    "wrap": "model",
}

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .checks.findings import CodeInfo, Finding
    from .errors import GradcheckError, InputError, MissingExtraError, ModelCallError, ModelInterfaceError
    from .model import layered, pair, wrap
    from .report.data import Report
    from .run import diagnose
    from .testing import assert_gradients_ok

    #: Every finding code → its severity and summary (read-only).
    codes: Mapping[str, CodeInfo]


def __getattr__(name: str) -> Any:
    if name == "codes":
        value: Any = importlib.import_module(".checks", __name__).CODES
    elif name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'gradcheck_kit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
