"""Report → text, one table of formats: ``table`` (rich, as plain text), ``json``, ``csv``, ``markdown``.

The CLI offers exactly the formats in `FORMATS`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..checks.findings import format_number as fmt
from .render import plain_text
from .rows import MARKS, display_row

if TYPE_CHECKING:
    from .data import Report

__all__ = ["FILE_WIDTH", "FORMATS", "to_csv", "to_json", "to_markdown", "to_table"]


#: The widest a table written to a file gets; lines are as long as their content needs, up to this.
FILE_WIDTH = 120


def to_table(report: Report) -> str:
    """The rich tables, findings and verdict as plain text for a file: every column of the tensor table,
    prose wrapped at `FILE_WIDTH` columns, no trailing spaces."""
    return plain_text(report, width=FILE_WIDTH)


def to_json(report: Report) -> str:
    """`Report.to_json`, with a final newline."""
    return report.to_json() + "\n"


def to_csv(report: Report) -> str:
    """The per-parameter table of `Report.to_frame` as CSV."""
    buffer = io.StringIO()
    report.to_frame().to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    """Tables that paste into an issue or a pull request."""
    subject = f"`{report.model}`" + ("" if report.style == report.model else f" ({report.style})")
    lines = [f"**gradcheck_kit** — {subject}, batch {report.batch_size}, "
             f"loss {fmt(report.base_loss, 4)}", "", f"**{_cell(report.verdict)}**", ""]
    lines += ["| layer | param | shape | checked | max rel. error | worst entry | analytic | numeric | verdict |",
              "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | --- |"]
    roles = {s.layer: s.role for s in report.layers}
    for t in report.tensors:
        c = display_row(t)
        mark = MARKS.get(roles.get(t.layer, ""), "")
        lines.append("| " + " | ".join(_cell(x) for x in (
            c.layer + mark, f"`{c.param}`", str(t.shape), c.checked, c.rel_error, c.worst_at, c.analytic, c.numeric,
            c.verdict)) + " |")
    if report.findings:
        lines += ["", "| severity | code | layer | finding | fix |", "| --- | --- | --- | --- | --- |"]
        for f in report.findings:
            lines.append("| " + " | ".join(_cell(x) for x in (f.severity, f"`{f.code}`", f.layer or "—", f.message,
                                                             f.fix)) + " |")
    if report.notes:
        lines += [""] + [f"- {_cell(n)}" for n in report.notes]
    return "\n".join(lines) + "\n"


#: Format name → writer. The CLI's ``--format`` choices are these keys.
FORMATS: dict[str, Callable[[Report], str]] = {
    "table": to_table,
    "json": to_json,
    "csv": to_csv,
    "markdown": to_markdown,
}
