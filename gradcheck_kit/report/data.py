"""`Report`: the result of `diagnose`, as data. Rendering lives in `render`; nothing here prints."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..checks.findings import Finding
from ..measure.attribution import Attribution, LayerSummary
from ..numeric.comparison import TensorCheck
from .rows import FRAME_COLUMNS, data_row

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from rich.console import Console, ConsoleOptions, RenderResult

__all__ = ["FRAME_COLUMNS", "LayerSummary", "Report"]

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple):  # shapes and indices: JSON lists of ints
        return list(value)
    return value


class Verdict(str):
    """The verdict line, a `str`. Calling it, the older spelling ``report.verdict()`` from when it was a
    method, still returns the line, with a `FutureWarning`, until that spelling is removed."""

    __slots__ = ()

    def __call__(self) -> str:
        warnings.warn("report.verdict() is deprecated: verdict is a property, the verdict line itself; write "
                      "report.verdict (the call will be removed in a future release)", FutureWarning, stacklevel=2)
        return str(self)


class Report:
    """Outcome of `diagnose`.

    Attributes
    ----------
    findings
        Findings, errors first.
    tensors
        Per-parameter measurements, from the loss back to the input.
    isolated
        Layered models only: each layer's own backward checked in isolation, input to loss.
    layers
        Per-layer verdicts and roles, from the loss back to the input.
    complete
        False when the run was interrupted; the report then holds what finished, and ``interrupted``
        says during what.
    kind
        ``"network"``, or ``"function"`` for one custom function (a torch ``autograd.Function``).
    hidden
        Findings left out by ``skip=``/``select=`` (``--skip``/``--select``), errors first. They are not in
        ``findings`` and do not affect ``ok``, but the verdict and the JSON count them by code.
    """

    def __init__(self, *, model: str, style: str, batch_size: int, findings: Sequence[Finding],
                 tensors: Sequence[TensorCheck], attribution: Attribution, base_loss: float,
                 settings: Mapping[str, Any], notes: Sequence[str], calls: Mapping[str, int], seconds: float,
                 version: str, total_tensors: int | None = None, isolated: Sequence[TensorCheck] = (),
                 interrupted: str | None = None, kind: str = "network", hidden: Sequence[Finding] = ()) -> None:
        self.model = model
        self.style = style
        self.kind = kind
        self.batch_size = batch_size
        self.findings: tuple[Finding, ...] = tuple(sorted(findings, key=lambda f: _SEVERITY_ORDER[f.severity]))
        self.hidden: tuple[Finding, ...] = tuple(sorted(hidden, key=lambda f: _SEVERITY_ORDER[f.severity]))
        self.tensors: tuple[TensorCheck, ...] = tuple(tensors)
        self.attribution = attribution
        self.layers: tuple[LayerSummary, ...] = attribution.layers
        self.base_loss = base_loss
        self.settings = dict(settings)
        self.notes: tuple[str, ...] = tuple(dict.fromkeys(notes))
        self.calls = dict(calls)
        self.interrupted = interrupted
        self.complete = interrupted is None
        self.seconds = seconds
        self.version = version
        self.total_tensors = len(self.tensors) if total_tensors is None else total_tensors
        self.isolated: tuple[TensorCheck, ...] = tuple(isolated)

    @property
    def ok(self) -> bool:
        """True iff the check ran to completion and no *reported* finding has severity ``"error"``.

        An interrupted, partial report is never ok. Findings hidden by ``skip=``/``select=`` do not count:
        a report whose only errors were skipped is ok, and its verdict says how many errors were hidden
        (see `hidden`)."""
        return self.complete and not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def first_wrong_layer(self) -> str | None:
        """The first failing layer walking back from the loss; for layered models, the first whose own
        backward fails when checked in isolation (parameter-free layers included). ``None`` when no
        gradient error is reported (none was found, or its codes were skipped)."""
        if not any(f.layer is not None and f.severity == "error" for f in self.findings):
            return None
        return self.attribution.first_wrong_layer

    def codes(self) -> list[str]:
        """Finding codes in report order (handy in tests: ``assert "gradient-mismatch" in report.codes()``)."""
        return [f.code for f in self.findings]

    def finding(self, code: str) -> Finding | None:
        """The first finding with ``code``, or ``None``."""
        return next((f for f in self.findings if f.code == code), None)

    def _progress(self) -> str:
        done = sum(t.complete for t in self.tensors)
        text = f"{done} of {self.total_tensors} parameter tensors checked"
        partial = [t for t in self.tensors if not t.complete]
        if partial:
            t = partial[-1]
            text += f", {t.checked} of {t.planned} entries of {t.param}"
        return text

    def hidden_counts(self) -> dict[str, int]:
        """Findings hidden by ``skip=``/``select=``, counted by code (errors first)."""
        counts: dict[str, int] = {}
        for f in self.hidden:
            counts[f.code] = counts.get(f.code, 0) + 1
        return counts

    def _hidden_text(self) -> str:
        if not self.hidden:
            return ""
        parts = []
        for severity in ("error", "warning", "info"):
            n = sum(f.severity == severity for f in self.hidden)
            if n:
                parts.append(f"{n} {severity}" + ("" if n == 1 else "s"))
        codes = ", ".join(self.hidden_counts())
        how = " and ".join(name for name in ("select", "skip") if self.settings.get(name)) or "skip/select"
        return f"; {' and '.join(parts)} hidden by {how} ({codes})"

    @property
    def verdict(self) -> Verdict:
        """One line, a `str`: the outcome with the counts behind it, and what ``skip=``/``select=`` hid."""
        return Verdict(self._verdict_line())

    def _verdict_line(self) -> str:
        errors = len(self.errors)
        warnings = sum(f.severity == "warning" for f in self.findings)
        checked = sum(t.checked for t in self.tensors)
        head = "" if self.complete else f"INCOMPLETE (interrupted while {self.interrupted}; {self._progress()}): "
        if errors:
            if self.kind == "function":
                wrong = [t.param for t in self.tensors if t.verdict == "fail"]
                where = f"; wrong gradient for input(s): {', '.join(wrong)}" if wrong else ""
            else:
                first = self.first_wrong_layer
                how = ("first wrong layer walking back from the loss" if self.attribution.chain
                       else "the error most likely enters at")
                where = f"; {how}: {first}" if first else ""
            return f"{head}FAIL: {errors} error(s), {warnings} warning(s){where}{self._hidden_text()}"
        if not self.complete:
            wrong = [t.param for t in self.tensors if t.verdict == "fail"]
            so_far = f"wrong gradient so far for {', '.join(wrong)}" if wrong else "no errors so far"
            return f"{head}{so_far}; the rest was not checked"
        if self.hidden:
            return (f"OK: no errors in the findings reported ({len(self.tensors)} parameter tensors, {checked} "
                    f"entries checked, {warnings} warning(s)){self._hidden_text()}")
        return f"OK: {len(self.tensors)} parameter tensors, {checked} entries checked, no errors, {warnings} warning(s)"

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per parameter tensor (the columns of `to_frame`); for layered models, then one per
        gradient of each layer checked on its own (``scope`` ``"layer"``; ``param`` ``"<layer>.x"`` is the
        input gradient)."""
        return [data_row(t) for t in self.tensors] + [data_row(t, "layer") for t in self.isolated]

    def to_frame(self) -> pd.DataFrame:
        """Per-parameter table as a pandas DataFrame (columns: `FRAME_COLUMNS`, each described in
        ``gradcheck_kit.report.rows.COLUMN_DOCS``). ``shape`` and ``worst_index`` hold tuples of ints;
        ``failed``/``inconclusive`` count checked entries, ``probes_failed``/``probes_inconclusive`` directions."""
        import pandas as pd

        return pd.DataFrame(self.to_rows(), columns=list(FRAME_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite numbers become ``None``)."""
        return {
            "schema": "gradcheck_kit.report/2",
            "version": self.version,
            "model": self.model,
            "style": self.style,
            "ok": self.ok,
            "complete": self.complete,
            "interrupted": self.interrupted,
            "verdict": str(self.verdict),
            "batch_size": self.batch_size,
            "total_tensors": self.total_tensors,
            "loss": _safe(self.base_loss),
            "first_wrong_layer": self.first_wrong_layer,
            "findings": [f.to_dict() for f in self.findings],
            "hidden": {"skip": self.settings.get("skip"), "select": self.settings.get("select"),
                       "findings": self.hidden_counts(),
                       "errors": sum(f.severity == "error" for f in self.hidden)},
            "params": [{k: _safe(v) for k, v in row.items()} for row in self.to_rows()],
            "layers": [{"layer": s.layer, "params": list(s.params), "verdict": s.verdict, "role": s.role}
                       for s in self.layers],
            "notes": list(self.notes),
            "calls": self.calls,
            "seconds": self.seconds,
            "settings": {k: _safe(v) for k, v in self.settings.items()},
        }

    def to_json(self, **kwargs: Any) -> str:
        """`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), **{"indent": 2, **kwargs})

    def plot(self, *, ax: Axes | Sequence[Axes] | None = None, fig: Figure | None = None,
             figsize: tuple[float, float] | None = None) -> Figure:
        """Draw the report with matplotlib (the ``plot`` extra) and return the `~matplotlib.figure.Figure`.

        Left: the largest relative error of each tensor on a log scale, from the loss back to the input,
        each tensor's tolerance as a dashed line, pass/fail/inconclusive by colour and marker, and the first
        wrong layer shaded. Right: analytic against numeric for every checked entry of the worst tensor,
        with the line y = x: a sign flip lies on slope −1, a constant factor k on slope k, a transpose
        scatters. Non-finite values are skipped, and the figure says so.

        Parameters
        ----------
        ax
            Draw into your own axes instead: one `Axes` (the error panel only) or a pair (errors, scatter).
        fig
            Draw both panels into this figure (``fig.subplots``).
        figsize
            ``(width, height)`` in inches of the figure (default `report.plot.FIGSIZE`).

        The figure is made without pyplot, so nothing is shown or kept open: in a notebook it is shown as the
        cell's value; ``fig.savefig("report.png")`` writes it (any backend, Agg included).
        """
        from .plot import plot_report

        return plot_report(self, ax=ax, fig=fig, figsize=figsize)

    def print(self, *, console: Console | None = None) -> None:
        """Print the report with rich (plain text when not on a terminal)."""
        from rich.console import Console

        (console or Console()).print(self)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from .render import render_report, stripped

        yield from stripped(console, options, render_report(self, options.max_width))

    def __str__(self) -> str:
        from .render import plain_text

        return plain_text(self)

    def _repr_html_(self) -> str:
        """Jupyter: the tables, findings and verdict as self-contained HTML (`report.html.to_html`)."""
        from .html import to_html

        return to_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter and IPython: HTML, with the plain-text report as the fallback for text-only frontends."""
        from .html import to_html
        from .render import plain_text

        return {"text/html": to_html(self), "text/plain": plain_text(self)}

    def __repr__(self) -> str:
        return f"<Report {self.verdict}>"
