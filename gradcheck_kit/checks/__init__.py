"""Checks stage: named checks that read the measurement and yield findings.

Holds the `registry` (every check registered by name with the codes it emits, what it requires and
what it reads), the table of finding `codes`, the `findings` data type, the `context` every check reads
(with shared `evidence` computed once), shared message pieces (`messages`), and one module per family:
`gradients`, `causes`, `layers`, `sequences`, `steps`, `side_effects`, `dynamics`, `health`.

May import `measure`, `model`, `numeric`, `settings` and `errors`; nothing from `report`. A check reads
only its context, never another check's module.
"""

from __future__ import annotations

from . import causes, dynamics, gradients, health, layers, sequences, side_effects, steps  # noqa: F401
from .context import Context
from .findings import CodeInfo, Finding
from .registry import CHECKS, CODES, Check, plan, register, suppressed

__all__ = ["CHECKS", "CODES", "Check", "CodeInfo", "Context", "Finding", "plan", "register", "suppressed"]
