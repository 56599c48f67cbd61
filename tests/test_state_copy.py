"""`model.copies.StateCopy`: the reader's pristine state, put back after each trial call in place."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.model.copies import StateCopy, private_copy


class Net:
    def __init__(self):
        rng = np.random.default_rng(0)
        self.W = rng.normal(size=(4, 3))
        self.b = np.zeros(3)
        self.layers = [{"W": self.W, "name": "dense"}]
        self.labels = np.array(["a", "b"], dtype=object)
        self.cache = None
        self.steps = 0


def _trial(net):
    """What trial calls do: write into weights, rebind one, cache, count, drop an attribute."""
    net.W *= 3
    net.b = net.b + 1
    net.cache = np.ones(7)
    net.steps += 1
    net.labels[0] = "changed"
    del net.layers


def test_put_back_keeps_untouched_arrays_and_replaces_changed_ones():
    net, _, _ = private_copy(Net())
    W, b0, expected = net.W, net.b, {k: v.copy() for k, v in (("W", net.W), ("b", net.b))}
    state = StateCopy(vars(net))
    for _ in range(3):
        W = net.W
        _trial(net)  # writes into W, rebinds b
        state.put_back(vars(net))
        assert net.W is not W  # changed by the trial: a new copy ...
        np.testing.assert_array_equal(W, 3 * net.W)  # ... and the trial's array keeps the trial's values
        np.testing.assert_array_equal(net.W, expected["W"])
        assert net.b is b0  # the trial rebound b and left the array itself as it was: put back as it is
        np.testing.assert_array_equal(net.b, expected["b"])
        assert net.layers[0]["W"] is net.W  # still the one array the layer list holds
        assert net.cache is None and net.steps == 0 and list(net.labels) == ["a", "b"]


class PreallocatedBuffers:
    """A correct network with activation buffers allocated once ("not computed yet": NaN) that forward fills
    and returns, and no loss method: backward(X, y) returns the gradient of mean cross-entropy."""

    def __init__(self, n_in=5, n_h=7, n_out=3, batch=16, seed=0):
        rng = np.random.default_rng(seed)
        self.W1, self.b1 = rng.normal(size=(n_in, n_h)) / np.sqrt(n_in), np.zeros(n_h)
        self.W2, self.b2 = rng.normal(size=(n_h, n_out)) / np.sqrt(n_h), np.zeros(n_out)
        self.h, self.out = np.full((batch, n_h), np.nan), np.full((batch, n_out), np.nan)

    def forward(self, X):
        np.dot(X, self.W1, out=self.h)
        self.h += self.b1
        np.tanh(self.h, out=self.h)
        np.dot(self.h, self.W2, out=self.out)
        self.out += self.b2
        self.out -= self.out.max(axis=1, keepdims=True)
        np.exp(self.out, out=self.out)
        self.out /= self.out.sum(axis=1, keepdims=True)
        return self.out

    def backward(self, X, y):
        d = self.forward(X).copy()
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        grads = {"W2": self.h.T @ d, "b2": d.sum(0)}
        dh = (d @ self.W2.T) * (1 - self.h ** 2)
        grads["W1"], grads["b1"] = X.T @ dh, dh.sum(0)
        return grads


@pytest.mark.parametrize("cls", ["PreallocatedBuffers", "LockedBuffers"])  # a private copy, or checked in place
def test_a_network_whose_forward_returns_its_own_output_buffer_is_read_and_ok(cls):
    """The buffer a trial call returned keeps the trial's values: the reset after it does not write in place."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(16, 5)), rng.integers(0, 3, 16)
    model = globals()[cls]()
    report = gk.diagnose(model, (X, y), progress=False)
    assert report.ok, report
    assert np.isnan(model.out).all() and np.isnan(model.h).all()  # the user's buffers as they were


def test_an_array_the_trial_made_read_only_is_copied_anew():
    net, _, _ = private_copy(Net())
    state = StateCopy(vars(net))
    net.b[:] = 5
    net.b.flags.writeable = False
    state.put_back(vars(net))
    assert net.b.flags.writeable and not net.b.any()


def test_views_of_one_buffer_stay_views_of_one_buffer():
    class Flat:
        def __init__(self):
            self.flat = np.arange(10.0)
            self.W, self.b = self.flat[:6].reshape(2, 3), self.flat[6:]

    net, _, _ = private_copy(Flat())
    state = StateCopy(vars(net))
    net.flat[:] = -1
    net.W = np.zeros((2, 3))
    state.put_back(vars(net))
    np.testing.assert_array_equal(net.flat, np.arange(10.0))
    net.flat[0] = 42  # moving the buffer moves the view, as in the model it was copied from
    assert net.W[0, 0] == 42 and np.shares_memory(net.b, net.flat)


def _sgd_step(net, X, y, lr, p, h):
    """One SGD step of mean cross-entropy on a tanh-softmax net (W1, b1, W2, b2) from its probabilities ``p``
    (written into) and hidden activations ``h``."""
    p[np.arange(len(y)), y] -= 1
    p /= len(y)
    gW2, gb2 = h.T @ p, p.sum(0)
    dh = (p @ net.W2.T) * (1 - h ** 2)
    net.W1 -= lr * (X.T @ dh)
    net.b1 -= lr * dh.sum(0)
    net.W2 -= lr * gW2
    net.b2 -= lr * gb2


class LockedTrainer:
    """A self-training network holding a lock: neither it nor its state can be deep-copied, so it is checked in
    place, and the reader's trial steps must be undone all the same (its state put back by reference)."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.lock = threading.Lock()
        self.W1, self.b1 = rng.normal(size=(5, 7)) / np.sqrt(5), np.zeros(7)
        self.W2, self.b2 = rng.normal(size=(7, 3)) / np.sqrt(7), np.zeros(3)

    def forward(self, X):
        with self.lock:
            self.h = np.tanh(X @ self.W1 + self.b1)
            z = self.h @ self.W2 + self.b2
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

    def train(self, X, y, lr):
        _sgd_step(self, X, y, lr, self.forward(X), self.h)


class LockedBuffers(PreallocatedBuffers):
    """PreallocatedBuffers holding a lock: checked in place; forward returns its own (NaN-initialised) buffer."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()


def _cross_entropy(p, y):
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def test_a_model_that_cannot_be_copied_is_checked_at_its_own_weights():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(16, 5)), np.arange(16) % 3
    model = LockedTrainer()
    before = {k: getattr(model, k).copy() for k in ("W1", "b1", "W2", "b2")}
    report = gk.diagnose(model, (X, y), progress=False, lr=0.1)
    assert report.ok, report
    assert report.base_loss == _cross_entropy(LockedTrainer().forward(X), y)  # not at weights a trial step moved
    assert any("could not be deep-copied" in note for note in report.notes)
    for name, value in before.items():
        assert getattr(model, name).tobytes() == value.tobytes(), name



class BufferedTrainer(PreallocatedBuffers):
    """PreallocatedBuffers trained by its own step (no gradient method): the gradient is read off the step,
    and only the weights are parameters — forward rewrites its buffers (was: every weight taken for
    unchanged, as the outputs were compared with themselves, and the model refused)."""

    backward = None

    def forward(self, X):  # the buffers for the batch they were sized for; other sizes get new arrays
        full = len(X) == len(self.out)
        h = self.h if full else np.empty((len(X), self.h.shape[1]))
        out = self.out if full else np.empty((len(X), self.out.shape[1]))
        np.tanh(X @ self.W1 + self.b1, out=h)
        self.last_h = h
        np.dot(h, self.W2, out=out)
        out += self.b2
        np.exp(out - out.max(axis=1, keepdims=True), out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def train(self, X, y, lr):
        _sgd_step(self, X, y, lr, self.forward(X).copy(), self.last_h)


def test_a_self_training_network_that_returns_its_own_output_buffer_is_read_and_ok():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(16, 5)), rng.integers(0, 3, 16)
    model = BufferedTrainer()
    report = gk.diagnose(model, (X, y), progress=False, lr=0.1)
    assert report.ok, report
    assert sorted(t.param for t in report.tensors) == ["W1", "W2", "b1", "b2"]
    assert report.base_loss == _cross_entropy(BufferedTrainer().forward(X).copy(), y)
    assert np.isnan(model.out).all() and np.isnan(model.h).all()
