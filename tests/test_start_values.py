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
        states.append([saved for _, saved in self._pairs])

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
    for value in saved.values():
        value.setflags(write=False)  # as the guard's are (a writable one is never held: anyone could change it)
    copied, failure, start = private_copy(net, saved)
    assert failure is None and len(start) == 4
    state = StateCopy(vars(copied), start)
    held = {id(s) for _, s in state._pairs}
    assert id(start[id(copied.weights[1])]) in held and id(start[id(copied.weights[0])]) not in held
    copied.weights[0] += 3.0
    state.put_back(vars(copied))
    np.testing.assert_array_equal(copied.weights[0], net.weights[0])  # from its own saved copy
    assert copied.layers[0]["W"] is copied.weights[0]


class Uncopyable(ListNet):
    """Read-only weights, and no deep copy of the object itself (``__new__`` needs an argument): checked in
    place, its weights put back as writable copies after each trial call (as a deep copy would be)."""

    def __new__(cls, sizes):
        return super().__new__(cls)

    def __init__(self, sizes):
        super().__init__(sizes)
        for a in (*self.weights, *self.biases):
            a.setflags(write=False)


def test_read_only_weights_of_a_model_checked_in_place_are_still_read():
    net = Uncopyable((6, 8, 3))
    X, y = clusters(B=24, D=6, K=3)
    report = gk.diagnose(net, (X, y), progress=False, lr=0.1)
    assert report.ok and len(report.tensors) == 4, report
    assert not any(a.flags.writeable for a in (*net.weights, *net.biases))


class Dense:
    """A layer whose ``__setstate__`` (which deepcopy runs) clears its gradient buffers in place."""

    def __init__(self, m, n, rng, reopen=False):
        self.W, self.b = rng.normal(size=(m, n)) / np.sqrt(m), np.zeros(n)
        self.dW, self.db = np.zeros((m, n)), np.zeros(n)  # so the guard's copies of them are held too
        self.reopen = reopen

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.reopen:  # hostile: makes the arrays it was handed writable first
            self.dW.setflags(write=True)
            self.db.setflags(write=True)
        self.dW[...] = 0.0
        self.db[...] = 0.0


class TrainsItself:
    """Layers with ``__setstate__`` hooks and a ``train(X, y, lr)`` step: the reader's trial steps must be undone."""

    def __init__(self, reopen=False):
        rng = np.random.default_rng(0)
        self.l1, self.l2 = Dense(6, 8, rng, reopen), Dense(8, 3, rng, reopen)

    def forward(self, X):
        self.h = np.tanh(X @ self.l1.W + self.l1.b)
        z = self.h @ self.l2.W + self.l2.b
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def train(self, X, y, lr):
        d = self.forward(X)
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        self.l2.dW[...], self.l2.db[...] = self.h.T @ d, d.sum(0)
        dh = (d @ self.l2.W.T) * (1 - self.h ** 2)
        self.l1.dW[...], self.l1.db[...] = X.T @ dh, dh.sum(0)
        for layer in (self.l1, self.l2):
            layer.W -= lr * layer.dW
            layer.b -= lr * layer.db


@pytest.mark.parametrize("reopen", [False, True], ids=["hook writes", "hook makes writable, then writes"])
def test_a_deepcopy_hook_that_writes_costs_only_the_saving(reopen):
    """The hook runs on the saved state, which holds the guard's copies: a write fails (read-only) or, if the
    hook made them writable, is undone; the state is then saved as before, and the check runs at the user's
    weights (its loss is the user's own), with the user's model untouched."""
    X, y = clusters(B=24, D=6, K=3)
    net = TrainsItself(reopen)
    layers = (net.l1, net.l2)
    before = {(i, k): getattr(layer, k).copy() for i, layer in enumerate(layers) for k in ("W", "b", "dW", "db")}
    report = gk.diagnose(net, (X, y), progress=False, lr=0.1)
    p = TrainsItself().forward(X)
    assert report.base_loss == float(-np.mean(np.log(p[np.arange(len(y)), y])))
    assert report.ok, report
    for (i, k), old in before.items():  # as they were: writable, and not the hook's zeros
        array = getattr(layers[i], k)
        assert array.flags.writeable and array.tobytes() == old.tobytes(), (i, k)


def test_a_start_value_held_read_only_through_a_hook_that_reopens_it():
    net = TrainsItself(reopen=True)
    net.l1.dW[0, 0] = 7.0  # so the hook's zeros differ from the user's bytes ...
    guard = guard_model(net)
    copied, _, start = private_copy(net, guard.copies())
    copied.l1.dW[0, 0] = 7.0  # ... and the copy's array is still the user's, as when a hook rewrites a buffer
    state = StateCopy(vars(copied), start)
    assert not any(c.flags.writeable for c in guard.copies().values())
    assert guard.copies()[id(net.l1.dW)].tobytes() == net.l1.dW.tobytes()  # the hook's zeros are gone
    assert not any(saved is guard.copies()[id(net.l1.dW)] for _, saved in state._pairs)  # saved as before


def test_a_fortran_ordered_array_comes_back_in_its_own_layout():
    class Net:
        def __init__(self):
            self.W = np.asfortranarray(np.arange(12.0).reshape(3, 4))

    net = Net()
    copied, _, start = private_copy(net, guard_model(net).copies())
    state = StateCopy(vars(copied), start)
    copied.W *= 2
    state.put_back(vars(copied))
    assert copied.W.flags.f_contiguous and not copied.W.flags.c_contiguous
    np.testing.assert_array_equal(copied.W, net.W)


def test_the_start_values_are_read_once_and_not_sent_to_workers(monkeypatch):
    seen = []
    real = measurement._compare_tensors

    def spy(view, *args, **kwargs):
        seen.append(dict(view.start_values))
        return real(view, *args, **kwargs)

    monkeypatch.setattr(measurement, "_compare_tensors", spy)
    X, y = clusters(B=24, D=6, K=3)
    assert gk.diagnose(ListNet(), (X, y), progress=False).ok
    assert seen == [{}]  # the view (pickled for each worker's chunk) no longer holds them


def test_a_gradient_loop_over_no_batches_is_entered():
    from gradcheck_kit.model.adapt import adapt
    from gradcheck_kit.model.loss_loop import gradient_loop
    from gradcheck_kit.model.view import DRAW_WATCH

    X, y = clusters(B=24, D=6, K=3)
    view, data = adapt(ListNet(), (X, y))
    for _ in range(DRAW_WATCH + 1):  # watched long enough for the loop's fast path
        view.gradients(data)
    with gradient_loop(view, []) as gradient_of:
        assert callable(gradient_of)
