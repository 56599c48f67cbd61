"""`Finding`: one named observation about a model, as plain data.

A finding never holds arrays: ``evidence`` maps short keys to numbers or short strings, so a report
converts to JSON, CSV or a table without knowing what each check measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

__all__ = ["SEVERITIES", "CodeInfo", "Evidence", "Finding", "Severity", "format_number"]

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
Evidence = int | float | str | bool | None
_MAX_EVIDENCE_STR = 200


def _plain(key: str, value: object) -> Evidence:
    """Coerce numpy scalars to Python ones; refuse arrays and long strings."""
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str) and len(value) > _MAX_EVIDENCE_STR:
            raise ValueError(f"evidence {key!r} is a {len(value)}-character string; keep evidence short")
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    raise TypeError(
        f"evidence {key!r} is a {type(value).__name__}; evidence holds numbers and short strings only"
    )


@dataclass(frozen=True)
class Finding:
    """One named observation.

    Parameters
    ----------
    code
        Stable kebab-case identifier (public API), e.g. ``"gradient-mismatch"``.
    severity
        ``"error"`` (the gradients or training are wrong), ``"warning"`` or ``"info"``.
    layer
        The layer the finding is about, or ``None`` for the whole model.
    message
        What was observed, with numbers, and why it matters.
    fix
        What to change.
    evidence
        The numbers behind the message (numbers and short strings only).
    """

    code: str
    severity: Severity
    layer: str | None
    message: str
    fix: str
    evidence: Mapping[str, Evidence] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity is {self.severity!r}; expected one of {SEVERITIES}")
        plain = {str(k): _plain(str(k), v) for k, v in dict(self.evidence).items()}
        object.__setattr__(self, "evidence", MappingProxyType(plain))
        if self.fix[:1].islower():  # fixes are composed from parts; they read as sentences
            object.__setattr__(self, "fix", self.fix[0].upper() + self.fix[1:])

    def __hash__(self) -> int:
        return hash((self.code, self.severity, self.layer, self.message))

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form (non-finite floats become strings)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "layer": self.layer,
            "message": self.message,
            "fix": self.fix,
            "evidence": {k: _json_safe(v) for k, v in self.evidence.items()},
        }


@dataclass(frozen=True)
class CodeInfo:
    """A finding code (stable public API): its default severity, a one-line summary, and what it needs
    from the model (shown in the findings reference)."""

    code: str
    severity: Severity
    summary: str

    def finding(self, *, layer: str | None, message: str, fix: str, evidence: Mapping[str, object] | None = None,
                severity: Severity | None = None) -> Finding:
        """A finding with this code, at this code's severity unless ``severity`` says otherwise."""
        return Finding(code=self.code, severity=severity or self.severity, layer=layer, message=message, fix=fix,
                       evidence=dict(evidence or {}))  # type: ignore[arg-type]


def _json_safe(value: Evidence) -> Evidence:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def format_number(value: float | None, digits: int = 2) -> str:
    """Compact human form used in every message: ``9.7e-01`` style for small/large, plain otherwise."""
    if value is None:
        return "n/a"
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e4:
        return f"{value:.{digits + 1}g}"
    return f"{value:.{digits - 1}e}"
