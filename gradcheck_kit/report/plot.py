"""`Report.plot`: the report as a matplotlib figure.

matplotlib is optional (the ``plot`` extra) and imported here only when a picture is asked for. The
figure is built without pyplot (no global figure registry, no backend needed: it saves with Agg), and
every artist that carries the report's numbers has a ``gid`` (``"rel_error:fail"``, ``"tolerance"``,
``"first_wrong_layer"``, ``"entries:pass"``, ``"identity"``, ...) so tests and users can find it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, MissingExtraError
from ..numeric.comparison import TensorCheck

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .data import Report

__all__ = ["FIGSIZE", "MAX_POINTS", "plot_report", "require_matplotlib", "worst_tensor"]

#: Size in inches of a new figure with both panels.
FIGSIZE = (12.0, 5.0)
#: The scatter shows at most this many entries of the worst tensor (an exhaustive check can judge millions).
MAX_POINTS = 20_000

# EntryTable.status codes: 0 pass, 1 fail, 2 inconclusive
_STATUSES = ("pass", "fail", "inconclusive")
_STYLE: dict[str, dict[str, Any]] = {
    "pass": {"color": "#2e7d32", "marker": "o"},
    "fail": {"color": "#c62828", "marker": "X"},
    "inconclusive": {"color": "#b8860b", "marker": "^"},
}


def require_matplotlib(what: str = "report.plot()") -> None:
    """Raise `MissingExtraError` naming the ``plot`` extra when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(
            f"{what} draws with matplotlib, which could not be imported ({exc}); install the plot extra: "
            f"pip install 'gradcheck_kit[plot]'"
        ) from exc


def worst_tensor(report: Report) -> TensorCheck | None:
    """The tensor the scatter shows: the failing one with the largest relative error (any tensor when none
    fails); ``None`` when no tensor has a checked entry with finite values."""
    def key(t: TensorCheck) -> tuple[bool, float]:
        error = t.max_rel_error
        return t.verdict == "fail", error if np.isfinite(error) else -np.inf

    candidates = [t for t in report.tensors
                  if np.any(np.isfinite(t.table.analytic) & np.isfinite(t.table.numeric))]
    return max(candidates, key=key) if candidates else None


def _errors_panel(ax: Axes, report: Report) -> None:
    tensors = report.tensors
    ax.set_title("Largest relative error per tensor", loc="left")
    ax.set_ylabel("max. relative error (log scale)")
    ax.set_xlabel("from the loss (left) back to the input (right)")
    if not tensors:
        ax.text(0.5, 0.5, "no tensor was checked", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        return
    x = np.arange(len(tensors))
    errors = np.array([t.max_rel_error for t in tensors], dtype=float)
    rtols = np.array([t.rtol for t in tensors], dtype=float)
    verdicts = np.array([t.verdict for t in tensors])
    finite = np.isfinite(errors)
    positive = finite & (errors > 0)
    ax.set_yscale("log")

    wrong = report.first_wrong_layer
    where = np.flatnonzero([t.layer == wrong for t in tensors]) if wrong is not None else np.zeros(0, int)
    if where.size:
        ax.axvspan(where.min() - 0.5, where.max() + 0.5, color=_STYLE["fail"]["color"], alpha=0.12, lw=0,
                   label=f"first wrong layer: {wrong}", gid="first_wrong_layer")
    ax.hlines(rtols, x - 0.38, x + 0.38, colors="0.3", linestyles="--", lw=1.2, label="tolerance (rtol)",
              gid="tolerance")
    if positive.sum() > 1:
        ax.plot(x[positive], errors[positive], color="0.75", lw=0.8, zorder=1)
    for status in _STATUSES:
        chosen = positive & (verdicts == status)
        if chosen.any():
            ax.plot(x[chosen], errors[chosen], linestyle="none", markersize=8, zorder=3,
                    label=f"{status} ({int(chosen.sum())})", gid=f"rel_error:{status}", **_STYLE[status])
    floor = float(np.nanmin(np.concatenate([errors[positive], rtols[rtols > 0], [1.0]]))) / 100
    exact = finite & (errors == 0)
    if exact.any():  # exact agreement has no place on a log axis: drawn at the axis floor
        ax.plot(x[exact], np.full(int(exact.sum()), floor), linestyle="none", marker="v", markersize=8,
                color=_STYLE["pass"]["color"], label="0 (exact), at the floor", gid="rel_error:zero")
    for i in np.flatnonzero(~finite):
        ax.text(x[i], 0.02, "no finite\nerror", ha="center", va="bottom", fontsize=8, color="0.3",
                transform=ax.get_xaxis_transform(), gid="nonfinite")
    ax.set_xticks(x, [t.param + ("" if t.complete else "\n(partial)") for t in tensors],
                  rotation=45 if len(tensors) > 8 else 0, ha="right" if len(tensors) > 8 else "center")
    ax.set_xlim(-0.6, len(tensors) - 0.4)
    notes = []
    if (~finite).any():
        notes.append(f"skipped (no finite error): {', '.join(t.param for t, f in zip(tensors, finite) if not f)}")
    if wrong is not None and not where.size:
        notes.append(f"first wrong layer {wrong} has no parameter tensor on this axis")
    if notes:
        ax.text(0.01, 0.99, "\n".join(notes), transform=ax.transAxes, ha="left", va="top", fontsize=8,
                color="0.25", gid="notes")
    # beside the axes, not in them: "best" weighs markers and patches but not the tolerance segments, and
    # every place inside can hide one (the constrained layout makes room for it)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8, framealpha=0.85)


def _scatter_panel(ax: Axes, report: Report) -> None:
    t = worst_tensor(report)
    ax.set_xlabel("numeric (central differences)")
    ax.set_ylabel("analytic (your backward)")
    if t is None:
        ax.set_title("Analytic against numeric", loc="left")
        ax.text(0.5, 0.5, "no entry with finite values was checked", ha="center", va="center",
                transform=ax.transAxes)
        return
    table = t.table
    analytic, numeric = table.analytic, table.numeric
    finite = np.isfinite(analytic) & np.isfinite(numeric)
    shown = np.flatnonzero(finite)
    if shown.size > MAX_POINTS:  # every k-th entry: the picture stays readable and quick to draw
        shown = shown[:: -(-shown.size // MAX_POINTS)]
    for code, status in enumerate(_STATUSES):
        chosen = shown[table.status[shown] == code]
        if chosen.size:
            ax.scatter(numeric[chosen], analytic[chosen], s=18, alpha=0.8, color=_STYLE[status]["color"],
                       marker=_STYLE[status]["marker"], label=f"{status} ({chosen.size})", gid=f"entries:{status}",
                       zorder=3)
    values = np.concatenate([analytic[finite], numeric[finite]])
    lo, hi = (float(values.min()), float(values.max())) if values.size else (-1.0, 1.0)
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1e-12)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="analytic = numeric", gid="identity")
    decisive = finite & (table.status != 2)
    a, n = analytic[decisive], numeric[decisive]
    title = f"Worst tensor {t.param} (layer {t.layer}): analytic against numeric"
    if float(n @ n) > 0:
        slope = float(a @ n) / float(n @ n)
        title += f"\nleast squares through 0: analytic ≈ {slope:.3g} × numeric"
    ax.set_title(title, loc="left", fontsize=10)
    skipped = int((~finite).sum())
    notes = [f"{skipped} entr{'y' if skipped == 1 else 'ies'} with non-finite values skipped"] if skipped else []
    if shown.size < finite.sum():
        notes.append(f"showing {shown.size:,} of {int(finite.sum()):,} entries")
    if notes:
        ax.text(0.01, 0.99, "\n".join(notes), transform=ax.transAxes, ha="left", va="top", fontsize=8,
                color="0.25", gid="notes")
    ax.legend(loc="best", fontsize=8, framealpha=0.85)


def _axes_given(ax: Any) -> list[Axes]:
    from matplotlib.axes import Axes

    axes = list(ax) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
    if not 1 <= len(axes) <= 2 or not all(isinstance(a, Axes) for a in axes):
        raise InputError(f"ax={ax!r}: expected one matplotlib Axes (the error panel only) or a pair "
                         f"(errors, scatter)", option="ax")
    return axes


def plot_report(report: Report, *, ax: Axes | Sequence[Axes] | None = None, fig: Figure | None = None,
                figsize: tuple[float, float] | None = None) -> Figure:
    """Draw ``report`` (see `Report.plot`) and return the figure."""
    require_matplotlib()
    if ax is not None and (fig is not None or figsize is not None):
        raise InputError("ax= draws into axes you made, in their figure: pass ax= alone, or fig=/figsize= "
                         "for the kit's own layout", option="ax")
    if ax is not None:
        axes = _axes_given(ax)
        figure: Figure = axes[0].figure  # type: ignore[assignment]  # a SubFigure, if the axes are in one
    else:
        if fig is None:
            from .figure import ReportFigure

            figure = ReportFigure(figsize=figsize or FIGSIZE, layout="constrained")
        else:
            figure = fig
            if figsize is not None:
                figure.set_size_inches(figsize)
        axes = list(figure.subplots(1, 2, width_ratios=(3, 2)))
        verdict = "\n".join(textwrap.wrap(report.verdict, 110))
        figure.suptitle(f"{report.model}\n{verdict}", fontsize=10, ha="left", x=0.01)
    _errors_panel(axes[0], report)
    if len(axes) == 2:
        _scatter_panel(axes[1], report)
    return figure
