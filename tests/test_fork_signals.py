"""A process forked while a check runs does not inherit the run's SIGTERM handler.

During a run SIGTERM is turned into an exception on the main thread, so the user's model is restored before
the process ends. A forked child — a worker of joblib's multiprocessing backend, or the idle replacement pool
joblib starts when it gives up on a dead worker — inherited that handler: told to stop by the pool's
``terminate``, it raised inside the pool's queue and hung, and the check with it (seen as a 180 s hang of
tests/test_workers.py's dead-worker test in full-suite runs). The child now has the default disposition.
"""

from __future__ import annotations

import os
import signal
from typing import ClassVar

import numpy as np
import pytest

import gradcheck_kit as gk

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")


class ForksOnce:
    """A softmax regression whose first loss call forks a child that reports its SIGTERM disposition."""

    seen: ClassVar[list[str]] = []  # on the class: the kit calls a private copy of the model

    def __init__(self):
        self.W = np.random.default_rng(0).standard_normal((4, 3)) * 0.1

    def _probs(self, X):
        s = X @ self.W
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss(self, X, y):
        if not ForksOnce.seen:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: report and leave at once
                os.write(write, b"default" if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL else b"other")
                os._exit(0)
            os.close(write)
            ForksOnce.seen.append(os.read(read, 16).decode())
            os.close(read)
            os.waitpid(pid, 0)
        p = self._probs(X)
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))

    def backward(self, X, y):
        p = self._probs(X)
        p[np.arange(len(y)), y] -= 1
        return {"W": X.T @ p / len(y)}


def test_a_child_forked_during_a_check_gets_the_default_sigterm():
    rng = np.random.default_rng(1)
    ForksOnce.seen.clear()
    model = ForksOnce()
    before = signal.getsignal(signal.SIGTERM)
    report = gk.diagnose(model, (rng.standard_normal((16, 4)), rng.integers(0, 3, 16)), progress=False)
    assert report.ok, report
    assert ForksOnce.seen == ["default"]
    assert signal.getsignal(signal.SIGTERM) == before  # the caller's handler is back after the run
