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

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.io import save_batch, save_model
from tests import models
from tests.conftest import assert_unchanged, snapshot
from tests.models import data

ROOT = Path(__file__).resolve().parent.parent


class InterruptedAt(models.MLP):
    """Raises KeyboardInterrupt (as Ctrl-C would) inside its k-th loss call, after scribbling on its weights."""

    def __init__(self, k, **kw):
        super().__init__(**kw)
        self.k, self.n = k, 0

    def loss(self, X, y):
        self.n += 1
        if self.n == self.k:
            for w in self.params.values():
                w += 1.0
            raise KeyboardInterrupt
        return super().loss(X, y)


@pytest.mark.parametrize("k", [30, 60])
def test_interrupt_returns_a_partial_report_and_restores_the_model(k):
    model = InterruptedAt(k)
    before = snapshot(model)
    report = gk.diagnose(model, data())
    assert report.complete is False
    assert len(report.tensors) < 6 and report.total_tensors == 6
    assert report.verdict().startswith("INCOMPLETE")
    assert report.ok is False  # a partial report is never ok
    assert report.to_dict()["complete"] is False
    assert_unchanged(model, before)


def test_progress_bar_appears_on_a_terminal_and_ctrl_c_exits_130(tmp_path):
    X = np.random.default_rng(0).normal(size=(64, 64))
    y = np.arange(64) % 10
    save_model(models.MLP((64, 256, 10)), tmp_path / "big.npz")
    save_batch(tmp_path / "batch.npz", X, y)
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "gradcheck_kit", "report", "big.npz", "--batch", "batch.npz",
                             "--exhaustive", "--format", "json"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    seen, started = b"", time.monotonic()
    try:
        while b"loss evaluations" not in seen and time.monotonic() - started < 20:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                seen += os.read(master, 4096)
        appeared = time.monotonic() - started
        assert b"loss evaluations" in seen, seen[-500:]
        assert b"ETA" in seen
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 130
    d = json.loads(out)
    assert d["complete"] is False
    # the bar shows up well within the first seconds of the check (interpreter start-up included)
    assert appeared < 10


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
