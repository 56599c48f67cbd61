"""`ReportFigure`: the matplotlib figure `Report.plot` returns. Imports matplotlib, so it is imported only
when a picture is drawn (see `plot`)."""

from __future__ import annotations

import io

from matplotlib.figure import Figure

__all__ = ["ReportFigure"]


class ReportFigure(Figure):
    """A `Figure` made outside pyplot (nothing kept open, nothing shown twice in a notebook) that still
    shows itself as a notebook cell's value: without pyplot, IPython has no picture formatter for a bare
    figure, so it asks ``_repr_png_``."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()
