"""Models whose calls re-bind their weights to new arrays of the same values (``self.W =
self.W.astype(np.float64)`` in forward, a list of weights rebuilt on every call). Harmless for the model, but
the kit's moves of its working arrays would then never reach the next call: every finite difference came
out 0 and a correct network failed its gradient check. The side-effect probe now sees the re-binding and
the working arrays are bound again after every call."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class CastsInForward:
    """Re-binds its weights in forward ("make sure they are float64")."""

    def __init__(self, bug=False, seed=0):
        rng = np.random.default_rng(seed)
        self.W1, self.b1 = rng.normal(size=(4, 6)) * 0.5, np.zeros(6)
        self.W2, self.b2 = rng.normal(size=(6, 3)) * 0.5, np.zeros(3)
        self.bug = bug

    def forward(self, X):
        self.W1, self.W2 = self.W1.astype(np.float64), self.W2.astype(np.float64)
        self.X, self.h = X, np.tanh(X @ self.W1 + self.b1)
        self.p = _softmax(self.h @ self.W2 + self.b2)
        return self.p

    def loss(self, X, y):
        p = self.forward(X)
        return float(-np.log(p[np.arange(len(y)), y]).mean())

    def backward(self, X, y):
        self.loss(X, y)
        d = self.p.copy()
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        dh = d @ self.W2.T
        dz = dh if self.bug else dh * (1 - self.h**2)  # the bug: tanh's derivative left out
        return {"W1": X.T @ dz, "b1": dz.sum(0), "W2": self.h.T @ d, "b2": d.sum(0)}


class RebuildsListInBackward:
    """A list of weights, rebuilt (copied) by backward only; its loss leaves them alone."""

    def __init__(self, bug=False, seed=0):
        rng = np.random.default_rng(seed)
        self.weights = [rng.normal(size=(4, 5)) * 0.5, rng.normal(size=(5, 3)) * 0.5]
        self.bug = bug

    def _forward(self, X):
        h = np.tanh(X @ self.weights[0])
        return h, _softmax(h @ self.weights[1])

    def loss(self, X, y):
        _, p = self._forward(X)
        return float(-np.log(p[np.arange(len(y)), y]).mean())

    def backward(self, X, y):
        self.weights = [np.array(w) for w in self.weights]
        h, p = self._forward(X)
        d = p.copy()
        d[np.arange(len(y)), y] -= 1
        d /= 1 if self.bug else len(y)  # the bug: no batch average
        dh = (d @ self.weights[1].T) * (1 - h**2)
        return [X.T @ dh, h.T @ d]


class CastsEverySeventhCall(CastsInForward):
    """Re-binds only on some calls (every seventh forward), so the side-effect probe's few calls miss it."""

    def forward(self, X):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls % 7 == 0:
            self.W1 = self.W1.astype(np.float64)
        self.X, self.h = X, np.tanh(X @ self.W1 + self.b1)
        self.p = _softmax(self.h @ self.W2 + self.b2)
        return self.p


class CopiesAfterWarmUp(CastsInForward):
    """Starts re-binding after its first few calls (a lazy cast once "warmed up")."""

    def forward(self, X):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls > 6:
            self.W2 = np.array(self.W2)
        self.X, self.h = X, np.tanh(X @ self.W1 + self.b1)
        self.p = _softmax(self.h @ self.W2 + self.b2)
        return self.p


def _batch(seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(12, 4)), np.arange(12) % 3


@pytest.mark.parametrize("cls", [CastsInForward, RebuildsListInBackward, CastsEverySeventhCall, CopiesAfterWarmUp])
def test_correct_model_that_rebinds_its_weights_passes(cls):
    model = cls()
    before = {k: (v.copy() if isinstance(v, np.ndarray) else [w.copy() for w in v]) for k, v in vars(model).items()
              if isinstance(v, np.ndarray | list)}
    report = gk.diagnose(model, _batch(), progress=False)
    assert report.ok, report.findings
    assert not report.findings
    checked = {t.param: t for t in report.tensors}
    assert checked and all(t.verdict == "pass" for t in checked.values())
    for k, v in before.items():  # the user's model: bitwise as it was
        now = getattr(model, k)
        for a, b in zip(v if isinstance(v, list) else [v], now if isinstance(now, list) else [now]):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("cls", [CastsInForward, CastsEverySeventhCall, CopiesAfterWarmUp])
def test_bug_in_a_model_that_rebinds_its_weights_is_still_found_at_its_layer(cls):
    report = gk.diagnose(cls(bug=True), _batch(), progress=False)
    assert not report.ok
    failing = {t.param for t in report.tensors if t.verdict == "fail"}
    assert failing == {"W1", "b1"}


def test_missing_batch_average_in_a_model_that_rebinds_its_weights_is_named():
    report = gk.diagnose(RebuildsListInBackward(bug=True), _batch(), progress=False)
    assert "missing-batch-average" in {f.code for f in report.findings}
