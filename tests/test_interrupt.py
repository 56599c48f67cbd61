"""Ctrl-C: a partial report marked incomplete, the model unchanged; the progress bar on a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.io import save_batch, save_model
from tests import models
from tests.conftest import assert_unchanged, snapshot
from tests.models import data

ROOT = Path(__file__).resolve().parent.parent


class InterruptedAtCall(models.MLP):
    """Raises KeyboardInterrupt (as Ctrl-C would) in its k-th forward computation — every call into the
    model computes one: loss, forward, backward — after scribbling on its weights. The counter lives on the
    class, so the kit's private copy counts too; ``k = 0`` never interrupts."""

    counter: ClassVar[dict[str, int]] = {"n": 0, "k": 0}

    def _forward(self, X):
        c = InterruptedAtCall.counter
        c["n"] += 1
        if c["n"] == c["k"]:
            for w in self.params.values():
                w += 1.0
            raise KeyboardInterrupt
        return super()._forward(X)


def run_interrupted(k, **options):
    InterruptedAtCall.counter.update(n=0, k=k)
    model = InterruptedAtCall()
    before = snapshot(model)
    report = gk.diagnose(model, data(), **options)
    assert_unchanged(model, before)
    return report


def calls_in_a_whole_run(**options):
    report = run_interrupted(0, **options)
    assert report.complete
    return InterruptedAtCall.counter["n"]


def assert_partial(report, k):
    assert report.complete is False, k
    assert report.ok is False  # a partial report is never ok
    assert report.interrupted, k
    assert report.verdict.startswith(f"INCOMPLETE (interrupted while {report.interrupted}"), report.verdict
    assert all(t.complete for t in report.tensors[:-1])
    assert len(report.tensors) <= report.total_tensors
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert d["complete"] is False and d["interrupted"] == report.interrupted


def test_ctrl_c_at_every_call_of_a_run_gives_a_partial_report_and_restores_the_model():
    total = calls_in_a_whole_run()
    phases = set()
    for k in range(1, total + 1):
        report = run_interrupted(k)
        assert_partial(report, k)
        phases.add(report.interrupted)
    assert {"reading the model", "inspecting the model's calls for side effects", "computing the baseline loss",
            "computing the analytic gradient", "measuring the loss's noise", "comparing gradients",
            "running the named checks"} <= phases, phases


@pytest.mark.slow
def test_ctrl_c_at_every_call_of_a_run_with_the_training_checks():
    total = calls_in_a_whole_run(lr=0.5)
    for k in range(1, total + 1):
        assert_partial(run_interrupted(k, lr=0.5), k)


def test_ctrl_c_keeps_the_entries_already_judged_of_the_tensor_in_progress():
    total = calls_in_a_whole_run(exhaustive=True)
    report = run_interrupted(total - 40, exhaustive=True)  # well inside the last tensor checked
    partial = report.tensors[-1]
    assert not partial.complete and 0 < partial.checked < partial.planned == partial.size
    assert f"{partial.checked} of {partial.planned} entries of {partial.param}" in report.verdict
    assert report.interrupted == "comparing gradients"


def test_progress_bar_appears_on_a_terminal_and_ctrl_c_exits_130(tmp_path):
    """Deterministic: the exhaustive check of SlowMLP lasts ~20 s, so Ctrl-C, sent when the bar appears,
    always lands inside the run; and any moment inside the run gives a partial report."""
    X = np.random.default_rng(0).normal(size=(16, 64))
    y = np.arange(16) % 10
    save_model(models.SlowMLP((64, 64, 10)), tmp_path / "slow.npz")
    save_batch(tmp_path / "batch.npz", X, y)
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "gradcheck_kit", "report", "slow.npz", "--trust", "--batch",
                             "batch.npz",
                             "--exhaustive", "--format", "json"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    seen, started = b"", time.monotonic()
    try:
        while b"loss evaluations" not in seen and time.monotonic() - started < 120:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                seen += os.read(master, 4096)
        assert b"loss evaluations" in seen, seen[-500:]
        assert b"ETA" in seen
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 130
    d = json.loads(out)
    assert d["complete"] is False and d["interrupted"] == "comparing gradients"


def test_progress_bar_opens_during_one_long_step_and_closes():
    import time as clock

    from gradcheck_kit.report.progress import DELAY, ProgressBar

    with ProgressBar(10, enabled=True, description="named checks", unit="checks") as bar:
        clock.sleep(DELAY + 0.4)  # one long step, no advance yet
        assert bar._bar is not None
        bar.advance(3)
        assert bar.done == 3
    assert bar._bar is None
    with ProgressBar(10, enabled=False) as quiet:
        clock.sleep(DELAY + 0.2)
        assert quiet._bar is None
