"""`Report.plot` and ``--plot``: the figure's data (not its pixels) is the report's."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.report.plot import worst_tensor
from tests import models
from tests.models import data
from tests.test_cli import run
from tests.test_interrupt import run_interrupted

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def doubled():
    return gk.diagnose(models.SoftmaxDerivativeAppliedTwice(), data())


@pytest.fixture(scope="module")
def sign_flipped():
    return gk.diagnose(models.GradientSignFlippedInOutputLayer(), data())


@pytest.fixture(scope="module")
def correct():
    return gk.diagnose(models.MLP(), data())


def artists(fig, gid):
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


def plotted_errors(fig):
    """(x, rel. error) per status, from the markers of the error panel."""
    out = {}
    for status in ("pass", "fail", "inconclusive"):
        for line in artists(fig, f"rel_error:{status}"):
            out[status] = dict(zip(line.get_xdata().tolist(), line.get_ydata().tolist()))
    return out


def assert_errors_are_the_reports(report, fig):
    errors_ax = fig.axes[0]
    assert [t.get_text().split("\n")[0] for t in errors_ax.get_xticklabels()] == [t.param for t in report.tensors]
    assert errors_ax.get_yscale() == "log"
    plotted = plotted_errors(fig)
    for i, t in enumerate(report.tensors):
        if np.isfinite(t.max_rel_error) and t.max_rel_error > 0:
            assert plotted[t.verdict][i] == t.max_rel_error, t.param
    (tolerance,) = artists(fig, "tolerance")
    segments = tolerance.get_segments()
    assert [float(s[0][1]) for s in segments] == [t.rtol for t in report.tensors]
    assert [float(s[:, 0].mean()) for s in segments] == pytest.approx(range(len(report.tensors)))


def test_errors_in_report_order_with_tolerance_and_first_wrong_layer(doubled):
    fig = doubled.plot()
    assert isinstance(fig, Figure)
    assert_errors_are_the_reports(doubled, fig)
    assert set(plotted_errors(fig)) == {"fail"}
    (span,) = artists(fig, "first_wrong_layer")
    xs = (span.get_x(), span.get_x() + span.get_width())
    where = [i for i, t in enumerate(doubled.tensors) if t.layer == doubled.first_wrong_layer]
    assert doubled.first_wrong_layer == "3" and where == [0, 1]
    assert (min(xs), max(xs)) == (-0.5, 1.5)
    assert span.get_label() == "first wrong layer: 3"


def test_scatter_is_the_worst_tensors_entries_with_the_identity_line(sign_flipped):
    fig = sign_flipped.plot()
    worst = worst_tensor(sign_flipped)
    assert worst is not None and worst.param == "W3" and worst.verdict == "fail"
    (points,) = artists(fig, "entries:fail")
    np.testing.assert_array_equal(points.get_offsets(), np.column_stack([worst.table.numeric, worst.table.analytic]))
    (identity,) = artists(fig, "identity")
    x, y = identity.get_data()
    assert list(x) == list(y)
    # a sign flip: slope −1, said in the panel's title
    assert "analytic ≈ -1 × numeric" in fig.axes[1].get_title(loc="left")


def test_correct_model_marks_nothing_wrong(correct):
    fig = correct.plot()
    assert_errors_are_the_reports(correct, fig)
    assert set(plotted_errors(fig)) == {"pass"}
    assert artists(fig, "first_wrong_layer") == []
    assert artists(fig, "entries:fail") == []
    assert artists(fig, "entries:pass")


def test_partial_report_plots_what_was_checked():
    report = run_interrupted(60, exhaustive=True)
    assert not report.complete and report.tensors and not report.tensors[-1].complete
    fig = report.plot()
    assert_errors_are_the_reports(report, fig)
    assert fig.axes[0].get_xticklabels()[-1].get_text().endswith("(partial)")
    assert "INCOMPLETE" in fig.get_suptitle()


def test_report_interrupted_before_any_tensor_plots_empty_panels():
    report = run_interrupted(1)
    assert report.tensors == ()
    fig = report.plot()
    assert "no tensor was checked" in [t.get_text() for t in fig.axes[0].texts]


def test_non_finite_values_are_skipped_and_said(doubled):
    report = copy.copy(doubled)
    first = doubled.tensors[0]
    table = dataclasses.replace(first.table, analytic=first.table.analytic.copy())
    table.analytic[:2] = np.nan
    whole = dataclasses.replace(doubled.tensors[1].table, rel_error=np.full(doubled.tensors[1].checked, np.nan))
    report.tensors = (dataclasses.replace(first, table=table), dataclasses.replace(doubled.tensors[1], table=whole),
                      *doubled.tensors[2:])
    assert np.isnan(report.tensors[1].max_rel_error)
    fig = report.plot()
    plotted = plotted_errors(fig)["fail"]
    assert 1 not in plotted and len(plotted) == len(report.tensors) - 1
    notes = " ".join(t.get_text() for t in artists(fig, "notes"))
    assert f"skipped (no finite error): {report.tensors[1].param}" in notes
    assert artists(fig, "nonfinite")


def test_scatter_skips_non_finite_entries_and_says_so(sign_flipped):
    report = copy.copy(sign_flipped)
    first = sign_flipped.tensors[0]
    table = dataclasses.replace(first.table, numeric=first.table.numeric.copy())
    table.numeric[0] = np.inf
    report.tensors = (dataclasses.replace(first, table=table), *sign_flipped.tensors[1:])
    fig = report.plot()
    (points,) = artists(fig, "entries:fail")
    assert len(points.get_offsets()) == first.checked - 1
    assert "1 entry with non-finite values skipped" in [t.get_text() for t in artists(fig, "notes")]


def test_ax_fig_and_figsize(doubled):
    fig = Figure()
    one = fig.add_subplot(1, 2, 1)
    assert doubled.plot(ax=one) is fig and artists(fig, "rel_error:fail") and not artists(fig, "identity")
    fig2 = Figure()
    pair = fig2.subplots(1, 2)
    assert doubled.plot(ax=pair) is fig2 and artists(fig2, "identity")
    fig3 = Figure()
    assert doubled.plot(fig=fig3, figsize=(6, 3)) is fig3 and len(fig3.axes) == 2
    assert tuple(fig3.get_size_inches()) == (6, 3)
    assert tuple(doubled.plot(figsize=(7, 2)).get_size_inches()) == (7, 2)
    with pytest.raises(gk.InputError, match="pass ax= alone"):
        doubled.plot(ax=one, fig=fig3)
    with pytest.raises(gk.InputError, match="expected one matplotlib Axes"):
        doubled.plot(ax="left")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from gradcheck_kit.io import save_batch, save_model

    d = tmp_path_factory.mktemp("plot")
    save_model(models.MLP(), d / "good.npz")
    save_model(models.SoftmaxDerivativeAppliedTwice(), d / "bad.npz")
    save_batch(d / "batch.npz", *data())
    return d


@pytest.mark.parametrize(("model", "code"), [("bad.npz", 1), ("good.npz", 0)])
def test_cli_plot_writes_a_png_and_exits_with_the_reports_code(files, model, code):
    out = files / f"{model}.png"
    r = run("report", model, "--trust", "--batch", "batch.npz", "-q", "--plot", out, cwd=files)
    assert r.returncode == code, r.stderr
    assert out.read_bytes()[:8] == PNG
    assert not list(files.glob(".*.tmp"))


def test_cli_plot_svg_by_suffix(files):
    r = run("report", "bad.npz", "--trust", "--batch", "batch.npz", "-q", "--plot", "out.svg", cwd=files)
    assert r.returncode == 1 and (files / "out.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    ("plot", "extra", "message"),
    [
        ("batch.npz", (), "--plot 'batch.npz' is the --batch file 'batch.npz'"),
        ("bad.npz", (), "--plot 'bad.npz' is the MODEL file"),
        ("out.json", ("-o", "out.json"), "is also the --output file"),
        ("out.txt", (), "names no picture format"),
        ("no/such/dir/out.png", (), "does not exist"),
    ],
)
def test_cli_plot_refuses_bad_destinations(files, plot, extra, message):
    before = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    r = run("report", "bad.npz", "--trust", "--batch", "batch.npz", "--plot", plot, *extra, cwd=files)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and r.stdout == ""
    assert {p.name: p.read_bytes() for p in files.iterdir() if p.is_file() and p.name in before} == before


def test_figure_shows_itself_in_a_notebook_without_pyplot(doubled):
    import pickle

    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = doubled.plot()
    assert plt.get_fignums() == before  # not kept open by pyplot, so a notebook does not show it twice
    assert fig._repr_png_()[:8] == PNG
    assert isinstance(pickle.loads(pickle.dumps(fig)), Figure)


@pytest.mark.parametrize("name", ["doubled", "sign_flipped", "correct"])
def test_error_panel_legend_hides_no_data(request, name):
    report = request.getfixturevalue(name)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = report.plot()
    FigureCanvasAgg(fig).draw()  # laid out and drawn as a png is: positions in pixels
    errors_ax, scatter_ax = fig.axes
    legend = errors_ax.get_legend().get_window_extent()
    assert not legend.overlaps(errors_ax.get_window_extent()), (legend, errors_ax.get_window_extent())
    assert not legend.overlaps(scatter_ax.get_window_extent())
    assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)  # not cut off
    (tolerance,) = artists(fig, "tolerance")
    to_pixels = errors_ax.transData
    for segment in tolerance.get_segments():
        (x0, y0), (x1, y1) = to_pixels.transform(segment)
        assert not (legend.x0 <= max(x0, x1) and min(x0, x1) <= legend.x1 and legend.y0 <= y0 <= legend.y1)
