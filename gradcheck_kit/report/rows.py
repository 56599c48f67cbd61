"""Rows: one tensor's numbers as data (DataFrame, JSON, CSV) and as display cells (rich, Markdown)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..checks.findings import format_number as fmt
from ..numeric.comparison import TensorCheck

__all__ = ["FRAME_COLUMNS", "MARKS", "DisplayRow", "data_row", "display_row"]

FRAME_COLUMNS = (
    "layer", "param", "shape", "dtype", "size", "checked", "probes", "failed", "inconclusive",
    "max_rel_error", "worst_index", "analytic", "numeric", "norm_ratio", "cosine", "eps", "rtol",
    "noise_floor", "verdict", "passed", "scope",
)
#: Marks after a layer's name: where an error enters, and where it is only inherited.
MARKS = {"origin": " ◀", "inherited": " ↓"}


def data_row(t: TensorCheck, scope: str = "network") -> dict[str, Any]:
    """The numbers of one tensor, keyed by `FRAME_COLUMNS`."""
    worst = t.worst
    return {
        "layer": t.layer,
        "param": t.param,
        "shape": str(t.shape),
        "dtype": t.dtype,
        "size": t.size,
        "checked": t.checked,
        "probes": len(t.probes),
        "failed": t.failed,
        "inconclusive": t.inconclusive,
        "max_rel_error": t.max_rel_error,
        "worst_index": str(worst.index) if worst else None,
        "analytic": worst.judgement.analytic if worst else math.nan,
        "numeric": worst.judgement.numeric if worst else math.nan,
        "norm_ratio": t.norm_ratio,
        "cosine": t.cosine,
        "eps": t.step,
        "rtol": t.rtol,
        "noise_floor": t.noise,
        "verdict": t.verdict,
        "passed": None if t.verdict == "inconclusive" else t.verdict == "pass",
        "scope": scope,
    }


@dataclass(frozen=True)
class DisplayRow:
    """One tensor's cells as every text format shows them."""

    layer: str
    param: str
    shape: str
    checked: str
    rel_error: str
    worst_at: str
    analytic: str
    numeric: str
    ratio: str
    verdict: str


def _number(value: float, digits: int = 2) -> str:
    return fmt(value, digits) if math.isfinite(value) else "—"


def display_row(t: TensorCheck) -> DisplayRow:
    worst = t.worst
    checked = f"{t.checked}/{t.size}" + ("" if t.complete else f" (of {t.planned} planned)")
    return DisplayRow(
        layer=t.layer, param=t.param, shape="×".join(map(str, t.shape)), checked=checked,
        rel_error=_number(t.max_rel_error), worst_at=str(worst.index) if worst else "—",
        analytic=fmt(worst.judgement.analytic, 3) if worst else "—",
        numeric=fmt(worst.judgement.numeric, 3) if worst else "—",
        ratio=_number(t.norm_ratio, 3), verdict=t.verdict if t.complete else f"{t.verdict}, partial",
    )
