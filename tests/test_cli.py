"""The real command, run in a subprocess: formats, exit codes, bad inputs, save/load round trips."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.io import load_model, save_batch, save_model
from gradcheck_kit.report import FRAME_COLUMNS
from tests import models
from tests.models import data

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "gradcheck_kit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    X, y = data()
    save_model(models.MLP(), d / "good.npz")
    save_model(models.SoftmaxDerivativeAppliedTwice(), d / "bad.npz")
    save_batch(d / "batch.npz", X, y)
    np.savez(d / "weights.npz", **models.MLP().params)
    return d


def test_exit_0_for_a_correct_model_with_a_plain_table(files):
    r = run("report", "good.npz", "--trust", "--batch", "batch.npz", cwd=files)
    assert r.returncode == 0, r.stderr
    assert "Gradient check — MLP" in r.stdout and "\x1b[" not in r.stdout
    assert r.stdout.rstrip().endswith("0 warning(s)") or "OK:" in r.stdout
    assert r.stderr == ""


def test_exit_1_for_error_findings_in_every_format(files):
    for fmt in ("table", "json", "csv", "markdown"):
        r = run("report", "bad.npz", "--trust", "--batch", "batch.npz", "--format", fmt, cwd=files)
        assert r.returncode == 1, (fmt, r.stderr)
    table = run("report", "bad.npz", "--trust", "--batch", "batch.npz", cwd=files).stdout
    assert "doubled-softmax-derivative" in table and "FAIL" in table


def test_json_schema_is_stable(files):
    r = run("report", "bad.npz", "--trust", "--batch", "batch.npz", "--format", "json", "--lr", "0.1", cwd=files)
    d = json.loads(r.stdout)
    assert set(d) == {
        "schema",
        "version",
        "model",
        "style",
        "ok",
        "complete",
        "interrupted",
        "verdict",
        "batch_size",
        "total_tensors",
        "loss",
        "first_wrong_layer",
        "findings",
        "hidden",
        "params",
        "layers",
        "notes",
        "calls",
        "seconds",
        "settings",
    }
    assert d["schema"] == "gradcheck_kit.report/2" and d["version"] == gk.__version__
    assert d["settings"]["lr"] == 0.1 and d["settings"]["seed"] == 0
    assert set(d["findings"][0]) == {"code", "severity", "layer", "message", "fix", "evidence"}
    assert set(d["params"][0]) == set(FRAME_COLUMNS)
    assert set(d["layers"][0]) == {"layer", "params", "verdict", "role"}
    assert {f["code"] for f in d["findings"]} >= {"doubled-softmax-derivative", "gradient-mismatch"}


def test_csv_is_the_frame(files, tmp_path):
    import pandas as pd

    out = tmp_path / "report.csv"
    r = run("report", "bad.npz", "--trust", "--batch", "batch.npz", "--format", "csv", "--output", out, cwd=files)
    assert r.returncode == 1 and r.stdout == ""
    frame = pd.read_csv(out)
    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert list(frame["param"]) == ["W3", "b3", "W2", "b2", "W1", "b1"]


def test_markdown_tables(files):
    text = run("report", "bad.npz", "--trust", "--batch", "batch.npz", "--format", "markdown", cwd=files).stdout
    assert "| layer | param | shape |" in text and "| severity | code | layer | finding | fix |" in text
    assert "`doubled-softmax-derivative`" in text


def test_select_skip_exhaustive_seed_quiet(files):
    r = run(
        "report",
        "bad.npz",
        "--trust",
        "--batch",
        "batch.npz",
        "--skip",
        "doubled-softmax-derivative,gradient-mismatch,lr-checks-skipped",
        "--quiet",
        cwd=files,
    )
    assert r.returncode == 0 and r.stdout.startswith("OK:")
    r = run("report", "good.npz", "--trust", "--batch", "batch.npz", "--exhaustive", "--seed", "3", "--format", "json",
            cwd=files)
    d = json.loads(r.stdout)
    assert all(p["checked"] == p["size"] for p in d["params"]) and d["settings"]["seed"] == 3


def test_import_spec_with_weights(files):
    r = run("report", "tests.models:MLP", "--weights", "weights.npz", "--batch", "batch.npz", "-q", cwd=files)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("OK: 6 parameter tensors")


def test_saved_then_loaded_model_gives_the_same_report(files):
    live = gk.diagnose(models.SoftmaxDerivativeAppliedTwice(), data()).to_dict()
    loaded = gk.diagnose(load_model(files / "bad.npz", trusted=True), data()).to_dict()
    cli = json.loads(run("report", "bad.npz", "--trust", "--batch", "batch.npz", "--format", "json", cwd=files).stdout)
    for d in (loaded, cli):
        for key in ("ok", "findings", "params", "layers", "loss", "first_wrong_layer"):
            assert d[key] == live[key], key


@pytest.fixture(scope="module")
def broken(files):
    d = files
    X, y = data()
    (d / "pickled.npz").write_bytes(pickle.dumps({"X": X}))
    np.savez(d / "objects.npz", X=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3))
    (d / "truncated.npz").write_bytes((d / "batch.npz").read_bytes()[:200])
    (d / "garbage.npz").write_bytes(b"hello, not an npz")
    np.savez(d / "no_y.npz", X=X)
    np.savez(d / "wrong_shape.npz", X=X[:, :4], y=y)
    np.savez(d / "bad_labels.npz", X=X, y=y + 5)
    np.save(d / "single.npy", X)
    np.savez(d / "nan_weights.npz", **{k: np.full_like(v, np.nan) for k, v in models.MLP().params.items()})
    np.savez(d / "short_weights.npz", W1=np.zeros((6, 8)))
    (d / "module_with_error.py").write_text("raise RuntimeError('import-time failure')\n")
    return d


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "missing.npz", "--batch", "batch.npz"), "model 'missing.npz' does not exist"),
        (("report", "good.npz", "--trust", "--batch", "missing.npz"), "batch 'missing.npz' does not exist"),
        (("report", "good.npz", "--trust", "--batch", "pickled.npz"), "is a Python pickle; refused"),
        (("report", "good.npz", "--trust", "--batch", "objects.npz"), "holds Python objects (dtype object); refused"),
        (("report", "good.npz", "--trust", "--batch", "truncated.npz"), "corrupt or truncated"),
        (("report", "good.npz", "--trust", "--batch", "garbage.npz"), "is not an .npz file"),
        (("report", "good.npz", "--trust", "--batch", "single.npy"), "is a single .npy array"),
        (("report", "good.npz", "--trust", "--batch", "no_y.npz"), "expected 'X' and 'y' (missing ['y'])"),
        (("report", "good.npz", "--trust", "--batch", "wrong_shape.npz"), "raised ValueError"),
        (("report", "good.npz", "--trust", "--batch", "bad_labels.npz"), "labels y range over 5..7"),
        (("report", "batch.npz", "--batch", "batch.npz"), "has no gradcheck_kit metadata"),
        (("report", "tests.models:MLP", "--weights", "nan_weights.npz", "--batch", "batch.npz"), "non-finite value(s)"),
        (
            ("report", "tests.models:MLP", "--weights", "short_weights.npz", "--batch", "batch.npz"),
            "that the file lacks",
        ),
        (
            ("report", "tests.models:NoSuch", "--weights", "weights.npz", "--batch", "batch.npz"),
            "has no attribute 'NoSuch'",
        ),
        (("report", "no_such_module_xyz:f", "--weights", "weights.npz", "--batch", "batch.npz"),
         "no module 'no_such_module_xyz' on Python's import path"),
        (
            ("report", "module_with_error.py:f", "--weights", "weights.npz", "--batch", "batch.npz"),
            "import-time failure",
        ),
        (("report", "tests.models:MLP", "--batch", "batch.npz"), "pass --weights"),
        (
            ("report", "good.npz", "--trust", "--batch", "batch.npz", "--select", "bogus"),
            "--select 'bogus' is not a finding code",
        ),
        (
            ("report", "good.npz", "--trust", "--batch", "batch.npz", "--skip", "non-finite,sign-fliped"),
            "--skip 'sign-fliped' is not a finding code; did you mean 'sign-flipped'?",
        ),
        (
            ("report", "good.npz", "--trust", "--batch", "batch.npz", "--lr", "-1"),
            "--lr -1; expected a positive finite number",
        ),
        (("report", "good.npz", "--trust", "--batch", "batch.npz", "-o", "no/such/dir/out.json"), "does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line(broken, args, message):
    r = run(*args, cwd=broken)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("gradcheck-kit: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_debug_shows_the_traceback(broken):
    r = run("report", "good.npz", "--trust", "--batch", "pickled.npz", "--debug", cwd=broken)
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_usage_errors_exit_2(files):
    assert run("report", "good.npz", "--trust", cwd=files).returncode == 2  # --batch missing
    assert run("frobnicate", cwd=files).returncode == 2
    assert run("report", "good.npz", "--trust", "--batch", "batch.npz", "--format", "yaml", cwd=files).returncode == 2


def test_help_says_a_model_file_is_code_run_only_with_trust(files):
    r = run("report", "--help", cwd=files)
    text = " ".join(r.stdout.split())  # the description is wrapped to the console's width
    assert r.returncode == 0 and "pickling disabled" in text
    assert "A model file is code, not data" in text
    assert "Without --trust such a file is refused and nothing is imported" in text
    assert "with --trust the command IMPORTS AND RUNS the code the file names" in text
    assert "--trust" in text and "import and run the factory a model .npz records" in text


def test_codes_lists_every_code(files):
    r = run("codes", cwd=files)
    assert r.returncode == 0
    # one line starts with each code; a summary's continuation lines are indented
    assert {line.split()[0] for line in r.stdout.splitlines() if not line.startswith(" ")} == set(gk.codes)


def test_demo_runs_with_no_arguments(tmp_path):
    r = run("demo", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "doubled-softmax-derivative" in r.stdout and "label-collapse" in r.stdout
    assert "held-out accuracy" in r.stdout


def test_save_model_refuses_what_cannot_be_rebuilt(tmp_path):
    class Local(models.MLP):
        pass

    with pytest.raises(gk.InputError, match="does not import back"):
        save_model(Local(), tmp_path / "m.npz")
    either = r"cannot read CS231nNet's constructor argument|does not import back|builds"
    with pytest.raises(gk.InputError, match=either):
        save_model(models.CS231nNet(D=5), tmp_path / "m.npz", kwargs={"D": 6})


def test_output_dash_is_stdout_and_writes_no_file(files):
    r = run("report", "good.npz", "--trust", "--batch", "batch.npz", "--format", "json", "-o", "-", cwd=files)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True
    assert not (files / "-").exists()


def test_jobs_without_exhaustive_is_a_usage_error_naming_both_flags(files):
    r = run("report", "good.npz", "--trust", "--batch", "batch.npz", "--jobs", "2", cwd=files)
    assert r.returncode == 2 and r.stdout == ""
    assert "--jobs 2 takes effect only with --exhaustive" in r.stderr and "add --exhaustive, or drop --jobs" in r.stderr
    r = run("report", "good.npz", "--trust", "--batch", "batch.npz", "-j", "1", "-q", cwd=files)
    assert r.returncode == 0, r.stderr  # the default value is no request for workers


def test_table_output_fits_piped_and_file_widths_without_trailing_spaces(files):
    env_free = run("report", "bad.npz", "--trust", "--batch", "batch.npz", cwd=files)  # COLUMNS=100 in run()
    lines = env_free.stdout.splitlines()
    assert max(map(len, lines)) <= 100 and all(line == line.rstrip() for line in lines)
    run("report", "bad.npz", "--trust", "--batch", "batch.npz", "-o", "out.txt", cwd=files)
    saved = (files / "out.txt").read_text(encoding="utf-8").splitlines()
    assert 100 < max(map(len, saved)) <= 120 and all(line == line.rstrip() for line in saved)
    assert any(line.startswith("┃ layer ") and " worst at " in line for line in saved)  # every column in a file


@pytest.mark.parametrize("width", [60, 80, 120])
def test_codes_and_help_wrap_at_word_boundaries_to_the_console(tmp_path, width):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": str(width)}
    for args in (("codes",), ("--help",), ("report", "--help")):
        out = subprocess.run([sys.executable, "-m", "gradcheck_kit", *args], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60).stdout
        lines = out.splitlines()
        assert max(map(len, lines)) <= width, (args, max(lines, key=len))
        assert all(line == line.rstrip() for line in lines), args
        words = set(out.split())
        if args == ("codes",):  # every summary whole: no word broken across lines
            import gradcheck_kit as gk

            for info in gk.codes.values():
                assert set(info.summary.split()) <= words, info.summary
        else:
            assert {"--weights", "IMPORTS", "save_model,"} <= words or args == ("--help",)
