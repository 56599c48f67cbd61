"""Rich rendering of a `Report`. The only module (with the CLI) that knows about consoles."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..checks.findings import format_number as fmt
from .rows import MARKS, display_row

if TYPE_CHECKING:
    from .data import Report

__all__ = ["plain_text", "render_report"]

_VERDICT_STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


_WIDE = 112  # below this console width the table drops the layer, shape and worst-index columns


def _subject(report: Report) -> str:
    """The model and how it was read, once when they are the same words ("layered model")."""
    return report.model if report.style == report.model else f"{report.model} ({report.style})"


def _tensor_table(report: Report, width: int) -> Table:
    wide = width >= _WIDE
    table = Table(
        title=f"Gradient check — {_subject(report)}",
        caption=(f"φ = ⟨g, output⟩ = {fmt(report.base_loss, 4)} for a random upstream gradient g"
                 if report.kind == "function" else
                 f"Batch {report.batch_size}, loss {fmt(report.base_loss, 4)}; from the loss back to the input")
        + ". checked = entries/size (plus random directions per tensor); ratio = ‖analytic‖/‖numeric‖; "
        "◀ = an error enters in this layer; ↓ = wrong only by inheriting it.",
        title_justify="left",
        caption_justify="left",
    )
    columns = [("layer", "left"), ("param", "left"), ("shape", "left")] if wide else [("param", "left")]
    columns += [("checked", "right"), ("rel err", "right")]
    columns += [("worst at", "left")] if wide else []
    columns += [("analytic", "right"), ("numeric", "right"), ("ratio", "right"), ("verdict", "left")]
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True,  # type: ignore[arg-type]
                         min_width=7 if name == "verdict" else None)
    by_param = {t.param: t for t in report.tensors}
    for summary in report.layers:
        params = [by_param[p] for p in summary.params if p in by_param]
        mark = MARKS.get(summary.role)
        # by the layer's name (wide), or by its first failing tensor: never on a row that passes
        marked = 0 if wide else next((j for j, t in enumerate(params) if t.verdict == "fail"), 0)
        for i, t in enumerate(params):
            cells = display_row(t)
            first = Text(summary.layer if (wide and i == 0) else ("" if wide else t.param))
            if mark and i == marked:
                first.append(mark, style="bold red" if summary.role == "origin" else "dim")
            row: list[RenderableType] = [first]
            if wide:
                row += [cells.param, cells.shape]
            row += [cells.checked, cells.rel_error]
            if wide:
                row.append(cells.worst_at)
            row += [cells.analytic, cells.numeric, cells.ratio, Text(cells.verdict, style=_VERDICT_STYLE[t.verdict])]
            table.add_row(*row, end_section=i == len(params) - 1)
    return table


def _isolated_table(report: Report) -> Table:
    table = Table(title="Layer by layer — each backward on its own, random upstream gradient",
                  caption="x = the input gradient dx; a failure here is the layer's own, not inherited.",
                  title_justify="left", caption_justify="left")
    for name, justify in (("layer", "left"), ("grad", "left"), ("checked", "right"), ("rel err", "right"),
                          ("analytic", "right"), ("numeric", "right"), ("verdict", "left")):
        table.add_column(name, justify=justify, no_wrap=name != "layer",  # type: ignore[arg-type]
                         min_width=7 if name == "verdict" else None)
    previous = None
    for t in reversed(report.isolated):
        cells = display_row(t)
        table.add_row(
            t.layer if t.layer != previous else "",
            "d" + t.param.rsplit(".", 1)[1],
            cells.checked,
            cells.rel_error,
            cells.analytic,
            cells.numeric,
            Text(cells.verdict, style=_VERDICT_STYLE[t.verdict]),
        )
        previous = t.layer
    return table


def _findings_table(report: Report) -> Table:
    table = Table(title="Findings", title_justify="left", show_lines=True)
    table.add_column("finding", no_wrap=True)
    table.add_column("what was found, and the fix", ratio=1)
    for f in report.findings:
        head = Text(f.severity, style=_SEVERITY_STYLE[f.severity])
        head.append(f"\n{f.code}")
        if f.layer is not None:
            head.append(f"\nlayer {f.layer}", style="dim")
        body = Text(f.message)
        body.append("\nFix: ", style="bold")
        body.append(f.fix)
        table.add_row(head, body)
    return table


def render_report(report: Report, width: int = _WIDE, *, verdict: bool = True) -> Iterator[RenderableType]:
    """Renderables for a report: tensor table, findings table, notes, one-line verdict. Below
    112 columns the tensor table keeps only the columns that decide the verdict."""
    if report.tensors:
        yield _tensor_table(report, width)
    if report.isolated:
        yield _isolated_table(report)
    if report.findings:
        yield _findings_table(report)
    if report.notes:
        yield Group(*(Text(f"note: {n}", style="dim") for n in report.notes))
    if verdict:
        style = "bold red" if not report.ok else ("bold yellow" if not report.complete else "bold green")
        yield Text(report.verdict(), style=style)


def plain_text(report: Report, *, width: int = 100, verdict: bool = True) -> str:
    """The report as plain text (no colour codes), as printed to a ``width``-column terminal; without the
    verdict line if ``verdict`` is False."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    console.print(*render_report(report, width, verdict=verdict))
    return buffer.getvalue()
