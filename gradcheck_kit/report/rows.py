"""Rows: one tensor's numbers as data (DataFrame, JSON, CSV) and as display cells (rich, Markdown)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..checks.findings import format_number as fmt
from ..numeric.comparison import TensorCheck

__all__ = ["COLUMN_DOCS", "FRAME_COLUMNS", "MARKS", "DisplayRow", "data_row", "display_row"]

#: Every column of `Report.to_frame` (and of each JSON ``params`` row), with what it holds. Entry counts
#: and direction counts are kept apart: ``failed`` of ``checked`` entries, ``probes_failed`` of ``probes``.
COLUMN_DOCS = {
    "layer": "the layer the tensor belongs to",
    "param": "the parameter tensor's name",
    "shape": "its shape: a tuple of ints in the DataFrame, a list in JSON (a string in CSV)",
    "dtype": "its dtype as the model holds it",
    "size": "its number of entries",
    "checked": "entries checked one by one (all of them with exhaustive=True)",
    "probes": "random unit directions checked (each moves every entry at once)",
    "failed": "checked entries whose analytic and numeric gradients disagree (directions not included)",
    "inconclusive": "checked entries that could not be judged (a kink, noise)",
    "probes_failed": "directions whose analytic and numeric derivatives disagree",
    "probes_inconclusive": "directions that could not be judged",
    "max_rel_error": "the largest relative error over the decisive entries and directions",
    "worst_index": "the index of the entry with the largest error, a tuple of ints (list in JSON), or None",
    "analytic": "the analytic gradient at worst_index",
    "numeric": "the finite-difference gradient at worst_index",
    "norm_ratio": "‖analytic‖ / ‖numeric‖ (1 when they agree)",
    "cosine": "cosine between the analytic and numeric gradients (1 when they agree)",
    "eps": "the finite-difference step used for this tensor",
    "rtol": "the relative tolerance used",
    "noise_floor": "the noise floor measured for this tensor's finite differences",
    "verdict": "pass, fail or inconclusive",
    "passed": "True/False, or None when inconclusive",
    "scope": "'network' (the whole model) or 'layer' (one layer's backward checked on its own)",
}
FRAME_COLUMNS = tuple(COLUMN_DOCS)
#: Marks after a layer's name: where an error enters, and where it is only inherited.
MARKS = {"origin": " ◀", "inherited": " ↓"}


def data_row(t: TensorCheck, scope: str = "network") -> dict[str, Any]:
    """The numbers of one tensor, keyed by `FRAME_COLUMNS`."""
    worst = t.worst
    return {
        "layer": t.layer,
        "param": t.param,
        "shape": tuple(int(n) for n in t.shape),
        "dtype": t.dtype,
        "size": t.size,
        "checked": t.checked,
        "probes": len(t.probes),
        "failed": t.failed_entries,
        "inconclusive": t.inconclusive_entries,
        "probes_failed": t.probes_with("fail"),
        "probes_inconclusive": t.probes_with("inconclusive"),
        "max_rel_error": t.max_rel_error,
        "worst_index": tuple(int(k) for k in worst.index) if worst else None,
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
