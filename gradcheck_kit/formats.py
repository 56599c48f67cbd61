"""Report → text in the CLI's formats: ``table`` (rich), ``json``, ``csv`` and ``markdown``."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from .findings import format_number as fmt

if TYPE_CHECKING:
    from .report import Report

__all__ = ["FORMATS", "to_csv", "to_markdown"]

FORMATS = ("table", "json", "csv", "markdown")


def to_csv(report: Report) -> str:
    """The per-parameter table of `Report.to_frame` as CSV."""
    buffer = io.StringIO()
    report.to_frame().to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    """Tables that paste into an issue or a pull request."""
    lines = [f"**gradcheck_kit** — `{report.model}` ({report.style}), batch {report.batch_size}, "
             f"loss {fmt(report.base_loss, 4)}", "", f"**{_cell(report.verdict())}**", ""]
    lines += ["| layer | param | shape | checked | max rel. error | worst entry | analytic | numeric | verdict |",
              "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | --- |"]
    roles = {s.layer: s.role for s in report.layers}
    for t in report.tensors:
        worst = t.worst
        mark = {"origin": " ◀", "inherited": " ↓"}.get(roles.get(t.layer, ""), "")
        lines.append("| " + " | ".join(_cell(c) for c in (
            t.layer + mark, f"`{t.param}`", str(t.shape), f"{t.checked}/{t.size}",
            fmt(t.max_rel_error) if math.isfinite(t.max_rel_error) else "—",
            str(worst.index) if worst else "—",
            fmt(worst.judgement.analytic, 3) if worst else "—",
            fmt(worst.judgement.numeric, 3) if worst else "—",
            t.verdict)) + " |")
    if report.findings:
        lines += ["", "| severity | code | layer | finding | fix |", "| --- | --- | --- | --- | --- |"]
        for f in report.findings:
            lines.append("| " + " | ".join(_cell(c) for c in (f.severity, f"`{f.code}`", f.layer or "—", f.message, f.fix)) + " |")
    if report.notes:
        lines += [""] + [f"- {_cell(n)}" for n in report.notes]
    return "\n".join(lines) + "\n"
