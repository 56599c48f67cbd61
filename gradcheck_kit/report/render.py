"""Rich rendering of a `Report`. The only module (with the CLI) that knows about consoles."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from ..checks.findings import format_number as fmt
from .rows import MARKS, display_row

if TYPE_CHECKING:
    from .data import Report

__all__ = ["plain_text", "render_report", "stripped"]

_VERDICT_STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


_WIDE = 112  # below this console width the table drops the layer, shape and worst-index columns


def _subject(report: Report) -> str:
    """The model and how it was read, once when they are the same words ("layered model")."""
    return report.model if report.style == report.model else f"{report.model} ({report.style})"


#: Columns left out, in this order, when a table is wider than the console: a number is never cut.
_DROP_ORDER = (("worst at",), ("shape",), ("layer",), ("ratio",), ("analytic", "numeric"))
#: The same for the layer-by-layer table, whose layer column is never left out: without it the rows say
#: "dx … fail" without saying which layer, the one thing that table is for.
_ISOLATED_DROP_ORDER = (("checked",), ("analytic", "numeric"))
#: The narrowest a name column (the only one that may be shortened, with "…") gets.
_NAME_MIN = 6


def _cell_width(cell: RenderableType) -> int:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return max((len(line) for line in text.splitlines()), default=0)


def _fitted_table(table: Table, columns: list[tuple[str, str]], rows: list[list[RenderableType]],
                  sections: list[bool], width: int, name: str, *,
                  drop_order: tuple[tuple[str, ...], ...] = _DROP_ORDER, whole_name: bool = False) -> Table:
    """Fill ``table`` with the columns that fit in ``width``: every column but ``name`` keeps its full width
    (its widest cell or header), dropping columns in ``drop_order`` while they do not fit; ``name`` takes
    what is left, shortened with "…" if it must. With ``whole_name`` the name column counts at its full
    width while columns are dropped, so that it is shortened only once every droppable column is gone."""
    keep = list(range(len(columns)))
    full = {i: max([len(columns[i][0])] + [_cell_width(r[i]) for r in rows]) for i in keep}
    least = {i: full[i] if (columns[i][0] != name or whole_name) else min(full[i], _NAME_MIN) for i in keep}

    def needed(kept: list[int]) -> int:  # the cells, a space either side, and the borders
        return sum(least[i] + 3 for i in kept) + 1

    for dropped in drop_order:
        if needed(keep) <= width:
            break
        keep = [i for i in keep if columns[i][0] not in dropped]
    for i in keep:
        title, justify = columns[i]
        if title == name:
            # exactly what is left: otherwise rich would shrink every column evenly, cutting the last one
            left = width - needed([j for j in keep if j != i]) - 3
            table.add_column(title, justify=justify, no_wrap=True, overflow="ellipsis",  # type: ignore[arg-type]
                             width=max(min(full[i], left), min(full[i], _NAME_MIN)))
        else:
            table.add_column(title, justify=justify, no_wrap=True, min_width=full[i])  # type: ignore[arg-type]
    for row, end in zip(rows, sections, strict=True):
        table.add_row(*(row[i] for i in keep), end_section=end)
    return table


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
    rows: list[list[RenderableType]] = []
    sections: list[bool] = []
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
            rows.append(row)
            sections.append(i == len(params) - 1)
    return _fitted_table(table, columns, rows, sections, width, name="layer" if wide else "param")


def _isolated_table(report: Report, width: int) -> Table:
    table = Table(title="Layer by layer — each backward on its own, random upstream gradient",
                  caption="x = the input gradient dx; a failure here is the layer's own, not inherited.",
                  title_justify="left", caption_justify="left")
    columns = [("layer", "left"), ("grad", "left"), ("checked", "right"), ("rel err", "right"),
               ("analytic", "right"), ("numeric", "right"), ("verdict", "left")]
    rows: list[list[RenderableType]] = []
    previous = None
    for t in reversed(report.isolated):
        cells = display_row(t)
        rows.append([
            t.layer if t.layer != previous else "",
            "d" + t.param.rsplit(".", 1)[1],
            cells.checked,
            cells.rel_error,
            cells.analytic,
            cells.numeric,
            Text(cells.verdict, style=_VERDICT_STYLE[t.verdict]),
        ])
        previous = t.layer
    return _fitted_table(table, columns, rows, [False] * len(rows), width, name="layer",
                         drop_order=_ISOLATED_DROP_ORDER, whole_name=True)


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


def stripped(console: Console, options: ConsoleOptions, renderables: Iterable[RenderableType]) -> Iterator[Segment]:
    """The segments of ``renderables`` line by line, without the spaces rich pads lines with on the right
    (titles, captions, wrapped prose): piped and saved output carries no trailing whitespace."""
    for renderable in renderables:
        for line in console.render_lines(renderable, options, pad=False):
            while line and not line[-1].control and not line[-1].text.rstrip():
                line.pop()  # a segment of spaces only
            if line and not line[-1].control:
                last = line[-1]
                line[-1] = Segment(last.text.rstrip(), last.style)
            yield from line
            yield Segment.line()


class _Stripped:
    """Renderables printed through `stripped`."""

    def __init__(self, renderables: list[RenderableType]) -> None:
        self.renderables = renderables

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        yield from stripped(console, options, self.renderables)


def render_report(report: Report, width: int = _WIDE, *, verdict: bool = True) -> Iterator[RenderableType]:
    """Renderables for a report: tensor table, findings table, notes, one-line verdict. Below
    112 columns the tensor table keeps only the columns that decide the verdict."""
    if report.tensors:
        yield _tensor_table(report, width)
    if report.isolated:
        yield _isolated_table(report, width)
    if report.findings:
        yield _findings_table(report)
    if report.notes:
        yield Group(*(Text(f"note: {n}", style="dim") for n in report.notes))
    if verdict:
        style = "bold red" if not report.ok else ("bold yellow" if not report.complete else "bold green")
        yield Text(report.verdict, style=style)


def plain_text(report: Report, *, width: int = 100, verdict: bool = True) -> str:
    """The report as plain text (no colour codes), as printed to a ``width``-column terminal; without the
    verdict line if ``verdict`` is False."""
    buffer = io.StringIO()
    # force_jupyter=False: in a notebook rich would otherwise display the text instead of returning it
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, force_jupyter=False)
    console.print(_Stripped(list(render_report(report, width, verdict=verdict))))
    return buffer.getvalue()
