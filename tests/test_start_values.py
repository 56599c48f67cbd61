"""The guard's copies of the user's arrays lent as the private copy's start values: the reader's saved state
and the measurement's baseline hold them instead of two more copies of the same bytes — only where the
working arrays still hold exactly those bytes, and never written (they are what the user's model is
restored from)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.measure import measurement
from gradcheck_kit.measure.measurement import _baseline
from gradcheck_kit.model.copies import StateCopy, private_copy
from gradcheck_kit.model.guard import ModelGuard, guard_model
from tests.models import clusters


class ListNet:
    """Weights as lists (Nielsen's idiom), also reachable through per-layer dicts: each array in two places."""

    def __init__(self, sizes=(6, 8, 3), seed=0):
        rng = np.random.default_rng(seed)
        self.weights = [rng.normal(size=(n, m)) / np.sqrt(m) for m, n in itertools.pairwise(sizes)]
        self.biases = [np.zeros((n, 1)) for n in sizes[1:]]
        self.layers = [{"W": w, "b": b} for w, b in zip(self.weights, self.biases)]

    def forward(self, X):
        a = X.T
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            a = np.tanh(w @ a + b)
        z = self.weights[-1] @ a + self.biases[-1]
        e = np.exp(z - z.max(axis=0))
        return (e / e.sum(axis=0)).T

    def backward(self, X, y):
        acts, a = [X.T], X.T
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            a = np.tanh(w @ a + b)
            acts.append(a)
        delta = self.forward(X).T
        delta[y, np.arange(len(y))] -= 1
        delta /= len(y)
        gw, gb = [None] * len(self.weights), [None] * len(self.biases)
        for i in range(len(self.weights) - 1, -1, -1):
            gw[i], gb[i] = delta @ acts[i].T, delta.sum(axis=1, keepdims=True)
            if i:
                delta = (self.weights[i].T @ delta) * (1 - acts[i] ** 2)
        return gb, gw  # (nabla_b, nabla_w), as Nielsen's backprop


def test_the_guard_saves_an_array_held_in_two_places_once_and_read_only():
    net = ListNet()
    guard = guard_model(net)
    copies = guard.copies()
    assert set(copies) == {id(a) for a in (*net.weights, *net.biases)}  # once each, though each sits in two places
    for array in (*net.weights, *net.biases):
        saved = copies[id(array)]
        assert saved is not array and not saved.flags.writeable and saved.tobytes() == array.tobytes()
        with pytest.raises(ValueError):
            saved[(0,) * saved.ndim] = 1.0  # a kit bug writing into it fails loudly, not into the restore
    before = net.weights[0].copy()
    net.weights[0] *= 2
    net.layers[0]["W"] = np.zeros(1)
    guard.restore()
    assert net.layers[0]["W"] is net.weights[0] and net.weights[0].tobytes() == before.tobytes()


def test_a_diagnosis_holds_the_guards_copies_as_its_saved_state_and_baseline(monkeypatch):
    lent, baselines, states = [], [], []
    real_copies, real_buffers, real_state = ModelGuard.copies, measurement._Buffers.__init__, StateCopy.__init__

    def spy_copies(self):
        lent.append(real_copies(self))
        return lent[-1]

    def spy_buffers(self, *args, **kwargs):
        real_buffers(self, *args, **kwargs)
        baselines.append(dict(self.baseline))

    def spy_state(self, *args, **kwargs):
        real_state(self, *args, **kwargs)
        states.append([saved for _, saved, _ in self._pairs])

    monkeypatch.setattr(ModelGuard, "copies", spy_copies)
    monkeypatch.setattr(measurement._Buffers, "__init__", spy_buffers)
    monkeypatch.setattr(StateCopy, "__init__", spy_state)
    net = ListNet()
    X, y = clusters(B=24, D=6, K=3)
    before = [a.copy() for a in (*net.weights, *net.biases)]
    report = gk.diagnose(net, (X, y), progress=False, lr=0.1)
    assert report.ok, report
    assert len(lent) == 1
    lent = {id(c) for c in lent[0].values()}
    assert len(baselines) == 1 and len(baselines[0]) == 4
    assert all(id(b) in lent for b in baselines[0].values())  # no copy of its own
    assert len([s for s in states[0] if id(s) in lent]) == 4  # the reader's saved weights: the guard's too
    for array, old in zip((*net.weights, *net.biases), before, strict=True):
        assert array.flags.writeable and array.tobytes() == old.tobytes()


def test_a_baseline_is_copied_when_the_working_array_no_longer_holds_the_start_value():
    work = np.arange(6.0)
    start = work.copy()
    start.setflags(write=False)
    assert _baseline(work, start) is start
    work[2] = np.nextafter(work[2], 9.0)  # one bit
    fresh = _baseline(work, start)
    assert fresh is not start and fresh.flags.writeable and fresh.tobytes() == work.tobytes()
    assert _baseline(work.astype(np.float32), start).dtype == np.float32  # another dtype: its own copy


def test_a_saved_state_takes_only_start_values_that_still_match():
    net = ListNet()
    saved = {id(a): a.copy() for a in (*net.weights, *net.biases)}
    saved[id(net.weights[0])][0, 0] += 1.0  # stale: must not stand for weights[0]
    copied, failure, start = private_copy(net, saved)
    assert failure is None and len(start) == 4
    state = StateCopy(vars(copied), start)
    held = {id(s) for _, s, _ in state._pairs}
    assert id(start[id(copied.weights[1])]) in held and id(start[id(copied.weights[0])]) not in held
    copied.weights[0] += 3.0
    state.put_back(vars(copied))
    np.testing.assert_array_equal(copied.weights[0], net.weights[0])  # from its own saved copy
    assert copied.layers[0]["W"] is copied.weights[0]
