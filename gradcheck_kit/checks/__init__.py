"""Checks: one module per family, each check registered by name in `registry.CHECKS`."""

from __future__ import annotations

from . import behaviour, causes, dynamics, gradients, health, layers  # noqa: F401  (registers their checks)
from .registry import CHECKS, CODES, Check, CodeInfo, register, resolve_codes, suppressed

__all__ = ["CHECKS", "CODES", "Check", "CodeInfo", "register", "resolve_codes", "suppressed"]
