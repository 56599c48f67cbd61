"""Report as data (frame, dict, JSON) and its rich rendering."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

import gradcheck_kit as gk
from gradcheck_kit.report import FRAME_COLUMNS
from tests import models
from tests.models import data


@pytest.fixture(scope="module")
def bad_report():
    return gk.diagnose(models.ActivationDerivativeMissingInLayer2(), data())


@pytest.fixture(scope="module")
def good_report():
    return gk.diagnose(models.MLP(), data())


def render(report, width=100):
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None).print(report)
    return buffer.getvalue()


def test_ok_reflects_error_findings(bad_report, good_report):
    assert good_report.ok and not bad_report.ok
    assert bad_report.codes() == ["gradient-mismatch"]
    assert bad_report.first_wrong_layer == "2"
    assert good_report.first_wrong_layer is None


def test_frame_has_one_row_per_tensor(bad_report):
    frame = bad_report.to_frame()
    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert list(frame["param"]) == ["W3", "b3", "W2", "b2", "W1", "b1"]
    assert list(frame["passed"]) == [True, True, False, False, False, False]
    assert (frame["max_rel_error"][frame["passed"]] < 1e-6).all()
    assert (frame["max_rel_error"][~frame["passed"].astype(bool)] > 0.1).all()
    assert frame.loc[0, "shape"] == (8, 3)
    assert all(isinstance(i, tuple) and all(type(k) is int for k in i) for i in frame["worst_index"])


def test_counts_keep_entries_and_directions_apart(bad_report):
    d = json.loads(bad_report.to_json())
    for row in d["params"]:
        # failed entries are counted among checked entries; failed directions among directions
        assert 0 <= row["failed"] + row["inconclusive"] <= row["checked"], row
        assert 0 <= row["probes_failed"] + row["probes_inconclusive"] <= row["probes"], row
        assert isinstance(row["shape"], list) and all(type(n) is int for n in row["shape"])
        assert row["worst_index"] is None or all(type(k) is int for k in row["worst_index"])
    w2 = next(row for row in d["params"] if row["param"] == "W2")
    assert w2["shape"] == [8, 8] and w2["failed"] == 12 and w2["probes_failed"] == 2
    from gradcheck_kit.report.rows import COLUMN_DOCS

    assert list(COLUMN_DOCS) == list(FRAME_COLUMNS) and all(COLUMN_DOCS.values())


def test_dict_is_json_safe_and_complete(bad_report):
    d = json.loads(json.dumps(bad_report.to_dict(), allow_nan=False))
    assert d["schema"] == "gradcheck_kit.report/2"
    assert d["ok"] is False and d["complete"] is True
    assert d["first_wrong_layer"] == "2"
    assert d["findings"][0]["code"] == "gradient-mismatch"
    assert d["findings"][0]["evidence"]["param"] in {"W2", "b2"}
    assert [row["param"] for row in d["params"]] == ["W3", "b3", "W2", "b2", "W1", "b1"]
    assert d["settings"]["max_entries"] == 12
    assert d["calls"]["loss"] > 0
    assert [layer["role"] for layer in d["layers"]] == ["passing", "origin", "inherited"]


def test_rendered_text_has_tables_findings_and_verdict(bad_report):
    text = render(bad_report)
    assert "Gradient check — ActivationDerivativeMissingInLayer2" in text
    assert "gradient-mismatch" in text
    assert "Fix:" in text
    assert "2 ◀" in text and "1 ↓" in text
    assert text.rstrip().splitlines()[-1] == bad_report.verdict
    assert "\x1b[" not in text
    assert str(bad_report) == render(bad_report)


def test_good_report_verdict_line(good_report):
    assert good_report.verdict.startswith("OK: 6 parameter tensors")
    assert good_report.codes() == []
    text = render(good_report)
    assert "Findings" not in text and text.count("note: exploding-learning-rate and label-collapse were not run") == 1


def test_finding_is_frozen_and_holds_no_arrays():
    import numpy as np

    finding = gk.Finding("x", "error", None, "m", "f", {"a": np.float64(1.5), "n": np.int64(2)})
    assert finding.evidence == {"a": 1.5, "n": 2}
    assert type(finding.evidence["a"]) is float
    with pytest.raises(TypeError, match="evidence 'v' is a ndarray"):
        gk.Finding("x", "error", None, "m", "f", {"v": np.ones(3)})
    with pytest.raises(ValueError, match="severity is 'fatal'"):
        gk.Finding("x", "fatal", None, "m", "f")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        finding.code = "y"  # type: ignore[misc]


def test_select_and_skip_filter_findings():
    model = models.ActivationDerivativeMissingInLayer2()
    skipped = gk.diagnose(model, data(), skip=["gradient-mismatch"])
    assert skipped.codes() == []
    # ok, but never silently: the verdict and the JSON say what was hidden, and how many
    assert skipped.ok and skipped.verdict.endswith("; 1 error hidden by skip (gradient-mismatch)")
    assert "no errors in the findings reported" in skipped.verdict
    assert [f.code for f in skipped.hidden] == ["gradient-mismatch"]
    hidden = json.loads(skipped.to_json())["hidden"]
    assert hidden == {"skip": ["gradient-mismatch"], "select": None, "findings": {"gradient-mismatch": 1}, "errors": 1}
    selected = gk.diagnose(models.SoftmaxDerivativeAppliedTwice(), data(), select="dead-units")
    assert selected.verdict.endswith("2 errors hidden by select (doubled-softmax-derivative, gradient-mismatch)")
    assert gk.diagnose(model, data()).hidden == ()
    assert gk.diagnose(model, data(), select="gradient-mismatch").codes() == ["gradient-mismatch"]


def test_first_wrong_layer_is_none_when_the_gradient_findings_are_skipped():
    report = gk.diagnose(models.ActivationDerivativeMissingInLayer2(), data(), skip="gradient-mismatch")
    assert report.ok and report.first_wrong_layer is None
    assert report.to_dict()["first_wrong_layer"] is None


@pytest.fixture(scope="module")
def wide_report():
    """Errors and warnings, long names, a learning-rate finding: the most text a report carries."""
    return gk.diagnose(models.SoftmaxDerivativeAppliedTwice(), models.clusters(B=32), lr=50.0, progress=False)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_every_line_fits_the_console_and_no_number_is_cut(wide_report, bad_report, width):
    from gradcheck_kit.report.rows import display_row

    for report in (wide_report, bad_report):
        text = render(report, width)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= width, max(lines, key=len)
        assert all(line == line.rstrip() for line in lines), [line for line in lines if line != line.rstrip()]
        assert "…" not in text  # nothing is cut short: a narrow console drops whole columns instead
        shown = any(line.startswith("┃") and " analytic " in line for line in lines)
        for t in report.tensors:
            cells = display_row(t)
            row = next(line for line in lines if line.startswith("│") and f"│ {t.param} " in line)
            assert f" {cells.rel_error} " in row and f" {cells.checked} " in row, row
            if shown:
                assert f" {cells.analytic} " in row and f" {cells.numeric} " in row, row
    headers = {w: next(line for line in render(wide_report, w).splitlines() if line.startswith("┃")) for w in (60, 80)}
    assert " analytic " in headers[80] and " analytic " not in headers[60]


@pytest.fixture(scope="module")
def layered_report():
    """The README's layer-by-layer example: a sigmoid layer whose backward forgets its derivative."""
    from examples import layer_by_layer as example

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 6)), rng.integers(0, 3, size=32)
    network = [example.Dense(6, 8, seed=1), example.Sigmoid(), example.Dense(8, 3, seed=2),
               example.SoftmaxCrossEntropy()]
    return gk.diagnose(network, (X, y), progress=False)


def _isolated_lines(text):
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Layer by layer"))
    end = next(i for i, line in enumerate(lines) if line.startswith("x = the input gradient"))
    return lines[start:end]


_ISOLATED_TITLES = {"layer", "grad", "checked", "rel err", "analytic", "numeric", "verdict"}


@pytest.mark.parametrize("width", [60, 80, 120])
def test_layer_by_layer_table_fits_and_always_names_the_layer(layered_report, width):
    lines = _isolated_lines(render(layered_report, width))
    assert max(len(line) for line in lines) <= width, max(lines, key=len)
    assert all(line == line.rstrip() for line in lines), [line for line in lines if line != line.rstrip()]
    header = next(line for line in lines if line.startswith("┃"))
    titles = [cell.strip() for cell in header.strip("┃").split("┃")]
    assert titles[0] == "layer" and set(titles) <= _ISOLATED_TITLES, titles  # no header word cut
    assert {"grad", "rel err", "verdict"} <= set(titles), titles
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in lines if line.startswith("│")]
    assert len(rows) == len(layered_report.isolated) and all(len(r) == len(titles) for r in rows)
    assert [r[0] for r in rows if r[0]] == ["3:SoftmaxCrossEntropy", "2:Dense", "1:Sigmoid", "0:Dense"]
    assert [r[0] for r in rows if r[-1] == "fail"] == ["1:Sigmoid"]  # the failing row names its layer
    assert "…" not in "\n".join(lines)  # other columns go before a name or a number is cut
    if width == 120:
        assert titles == ["layer", "grad", "checked", "rel err", "analytic", "numeric", "verdict"]


def test_layer_by_layer_table_shortens_the_layer_name_only_as_a_last_resort(layered_report):
    lines = _isolated_lines(render(layered_report, 40))
    assert max(len(line) for line in lines) <= 40, max(lines, key=len)
    header = next(line for line in lines if line.startswith("┃"))
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == ["layer", "grad", "rel err", "verdict"]
    names = [line.strip("│").split("│")[0].strip() for line in lines if line.startswith("│")]
    assert "1:Sigmoid" in names and any(n.endswith("…") and "3:SoftmaxCrossEntropy".startswith(n[:-1])
                                        for n in names), names


def test_verdict_is_a_property_like_ok_and_the_json(bad_report):
    assert isinstance(bad_report.verdict, str) and bad_report.verdict.startswith("FAIL: ")
    assert f"{bad_report.verdict}" == bad_report.to_dict()["verdict"] == str(bad_report.verdict)
    assert type(bad_report.to_dict()["verdict"]) is str  # the data is a plain str
    assert repr(bad_report) == f"<Report {bad_report.verdict}>"


def test_calling_verdict_still_works_with_a_future_warning(bad_report):
    with pytest.warns(FutureWarning, match=r"report\.verdict\(\) is deprecated.*write report\.verdict"):
        line = bad_report.verdict()
    assert line == bad_report.verdict and type(line) is str
