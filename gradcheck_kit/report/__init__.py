"""Report stage: the `Report` data, the rows every format shares, rich rendering, the table of output
formats, and the progress bar shown while a long check runs.

May import every stage below it (`checks`, `measure`, `model`, `numeric`, `settings`, `errors`); data
(`data`, `rows`) never imports the console at import time: rendering is in `render` and `formats`.
"""

from __future__ import annotations

from .data import FRAME_COLUMNS, LayerSummary, Report

__all__ = ["FRAME_COLUMNS", "LayerSummary", "Report"]
