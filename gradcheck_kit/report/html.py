"""A `Report` as self-contained HTML, for a notebook cell's output.

Rich draws the tables (the same renderables as the terminal) into a recording console and exports them
with inline styles: no stylesheet, no script, every user string escaped by rich's exporter.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from .data import Report

__all__ = ["FRAME", "HTML_WIDTH", "to_html"]

#: Columns the report is drawn in: wide enough for the full per-layer table (layer, shape, worst entry).
HTML_WIDTH = 120

# The frame of the exported text; rich fills in {code} (escaped, styled spans), {foreground}, {background}.
FRAME = (
    '<div class="gradcheck-kit-report">'
    '<pre style="white-space: pre; overflow-x: auto; line-height: 1.25; margin: 0; '
    "font-family: Menlo, 'DejaVu Sans Mono', Consolas, 'Courier New', monospace\">"
    "<code>{code}</code></pre></div>"
)


def to_html(report: Report, *, width: int = HTML_WIDTH) -> str:
    """The per-layer table, the findings, the notes and the verdict as an HTML fragment with inline styles
    (nothing external is loaded; model and layer names are escaped)."""
    console = Console(file=io.StringIO(), record=True, width=width, color_system="truecolor",
                      force_terminal=True, force_jupyter=False, legacy_windows=False)
    console.print(report)
    return console.export_html(inline_styles=True, code_format=FRAME)
