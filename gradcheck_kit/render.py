"""Rich rendering of a `Report`. The only module (with the CLI) that knows about consoles."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .findings import format_number as fmt

if TYPE_CHECKING:
    from .report import Report

__all__ = ["plain_text", "render_report"]

_VERDICT_STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _tensor_table(report: Report) -> Table:
    table = Table(
        title=f"Gradient check — {report.model} ({report.style}); batch {report.batch_size}, loss {fmt(report.base_loss, 4)}",
        caption="layers from the loss back to the input",
        title_justify="left",
        caption_justify="left",
    )
    for name, justify in (("layer", "left"), ("param", "left"), ("shape", "left"), ("checked", "right"),
                          ("max rel. err", "right"), ("worst entry: analytic vs numeric", "left"),
                          ("norm ratio", "right"), ("cosine", "right"), ("verdict", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    by_param = {t.param: t for t in report.tensors}
    for summary in report.layers:
        params = [by_param[p] for p in summary.params if p in by_param]
        for i, t in enumerate(params):
            worst = t.worst
            entry = "—"
            if worst is not None:
                entry = f"{worst.index}: {fmt(worst.judgement.analytic, 4)} vs {fmt(worst.judgement.numeric, 4)}"
            checked = f"{t.checked}/{t.size}" + (f" +{len(t.probes)}d" if t.probes else "")
            verdict = Text(t.verdict, style=_VERDICT_STYLE[t.verdict])
            if i == 0 and summary.role == "origin":
                verdict.append(" ← error enters here", style="bold red")
            elif i == 0 and summary.role == "inherited":
                verdict.append(" (inherited)", style="dim")
            table.add_row(
                summary.layer if i == 0 else "",
                t.param,
                str(t.shape),
                checked,
                fmt(t.max_rel_error) if math.isfinite(t.max_rel_error) else "—",
                entry,
                fmt(t.norm_ratio, 3) if math.isfinite(t.norm_ratio) else "—",
                fmt(t.cosine, 3) if math.isfinite(t.cosine) else "—",
                verdict,
                end_section=i == len(params) - 1,
            )
    return table


def _findings_table(report: Report) -> Table:
    table = Table(title="Findings", title_justify="left", show_lines=True)
    table.add_column("severity")
    table.add_column("code")
    table.add_column("layer")
    table.add_column("what was found, and the fix", ratio=1)
    for f in report.findings:
        body = Text(f.message)
        body.append("\nFix: ", style="bold")
        body.append(f.fix)
        table.add_row(Text(f.severity, style=_SEVERITY_STYLE[f.severity]), f.code, f.layer or "—", body)
    return table


def render_report(report: Report) -> Iterator[RenderableType]:
    """Renderables for a report: tensor table, findings table, notes, one-line verdict."""
    if report.tensors:
        yield _tensor_table(report)
    if report.findings:
        yield _findings_table(report)
    if report.notes:
        yield Group(*(Text(f"note: {n}", style="dim") for n in report.notes))
    style = "bold red" if not report.ok else ("bold yellow" if not report.complete else "bold green")
    yield Text(report.verdict(), style=style)


def plain_text(report: Report, *, width: int = 100) -> str:
    """The report as plain text (no colour codes), as printed to a 100-column terminal."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(report)
    return buffer.getvalue()
