"""The learning rate the kit gives a model's own training step reaches the update, however the model's
optimizer keeps it: nnfs's ``current_learning_rate`` beside ``learning_rate`` (with or without a decay
schedule already under way), and a rate schedule written as a read-only property."""

from __future__ import annotations

import contextlib
import importlib
import io

import numpy as np
import pytest

import gradcheck_kit as gk

nnfs = importlib.import_module("tests.idioms.fresh.nnfs_model")


def _nnfs_model(decay=0.0):
    np.random.seed(0)
    X, y = nnfs.vertical_data(samples=20, classes=3)
    model = nnfs.Model()
    for layer in (nnfs.Layer_Dense(2, 16), nnfs.Activation_ReLU(), nnfs.Layer_Dense(16, 3), nnfs.Activation_Softmax()):
        model.add(layer)
    model.set(loss=nnfs.Loss_CategoricalCrossentropy(), optimizer=nnfs.Optimizer_SGD(learning_rate=1.0, decay=decay),
              accuracy=nnfs.Accuracy_Categorical())
    model.finalize()
    return model, X, y


def _diagnose(model, X, y, lr):
    with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):  # nnfs prints every epoch
        return gk.diagnose(model, (X, y), lr=lr, progress=False)


@pytest.mark.parametrize("lr", [0.05, 1e-3])
def test_the_rate_reaches_nnfs_optimizers_current_learning_rate(lr):
    """nnfs's Optimizer_SGD steps by current_learning_rate, recomputed from learning_rate only with a decay: the
    kit sets both while it steps the model, or its step would move by the model's own rate 1.0 — with no
    momentum, a training-step-mismatch false alarm (the step moving 1/lr times −lr × the gradient)."""
    model, X, y = _nnfs_model()
    report = _diagnose(model, X, y, lr)
    assert report.ok and report.codes() == [], report
    assert model.optimizer.current_learning_rate == model.optimizer.learning_rate == 1.0  # the user's, untouched


def test_a_decay_schedule_under_way_does_not_pass_for_a_wrong_step():
    """nnfs's SGD with decay after 200 of the user's own steps: its current rate is learning_rate / (1 + decay·200),
    a third of it. The kit's step is the schedule's first, at the lr given — no training-step-mismatch (the step
    moved by a third of −lr × the gradient, whatever lr was passed)."""
    model, X, y = _nnfs_model(decay=1e-2)
    with contextlib.redirect_stdout(io.StringIO()):
        model.train(X, y, epochs=200, print_every=1000)
    before = (model.optimizer.iterations, model.optimizer.current_learning_rate)
    for lr in (1.0, 0.3):
        report = _diagnose(model, X, y, lr)
        assert report.ok and report.codes() == [], report
    assert (model.optimizer.iterations, model.optimizer.current_learning_rate) == before


class _ScheduledSGD:
    def __init__(self, lr=0.1, decay=0.0):
        self.lr, self.decay, self.t = lr, decay, 0

    @property
    def current_lr(self):
        return self.lr / (1 + self.decay * self.t)

    def step(self, params, grads):
        for p, g in zip(params, grads, strict=True):
            p -= self.current_lr * g
        self.t += 1


class _TanhNet:
    """A tanh layer and a softmax output (6 → 8 → 3); `_gradients` of the mean cross-entropy, the tanh
    derivative left out when ``forgets_tanh_derivative``."""

    def __init__(self, forgets_tanh_derivative=False, seed=0):
        rng = np.random.default_rng(seed)
        self.W1, self.b1 = 0.3 * rng.standard_normal((6, 8)), np.zeros(8)
        self.W2, self.b2 = 0.3 * rng.standard_normal((8, 3)), np.zeros(3)
        self.buggy = forgets_tanh_derivative

    def forward(self, X):
        self.h = np.tanh(X @ self.W1 + self.b1)
        s = self.h @ self.W2 + self.b2
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def _gradients(self, X, y):
        d = self.forward(X).copy()
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        dh = d @ self.W2.T * (1 if self.buggy else 1 - self.h**2)
        return {"W1": X.T @ dh, "b1": dh.sum(axis=0), "W2": self.h.T @ d, "b2": d.sum(axis=0)}


class _SelfTrainingNet(_TanhNet):
    """train_on_batch(X, y) with its rate on self.optimizer.lr."""

    def __init__(self, forgets_tanh_derivative=False, seed=0):
        super().__init__(forgets_tanh_derivative, seed)
        self.optimizer = _ScheduledSGD(0.1)

    def train_on_batch(self, X, y):
        grads = self._gradients(X, y)
        self.optimizer.step([self.W1, self.b1, self.W2, self.b2], [grads[n] for n in ("W1", "b1", "W2", "b2")])


@pytest.mark.parametrize("buggy", [False, True])
def test_a_read_only_current_rate_property_is_left_alone(buggy):
    """current_lr is a property without a setter: the kit sets lr and leaves current_lr to compute itself (it
    used to fail setting it, and reported that the model had no learning rate at all)."""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((32, 6)), rng.integers(0, 3, 32)
    report = _diagnose(_SelfTrainingNet(forgets_tanh_derivative=buggy), X, y, 0.1)
    assert len(report.tensors) == 4
    assert report.ok is not buggy, report


class _WarmupWithL2(_TanhNet):
    """decay is an L2 strength (in the loss and the gradient), iterations counts steps for a linear warm-up of the
    rate over the first 100: not nnfs's schedule, which the kit must leave alone."""

    def __init__(self, seed=0):
        super().__init__(seed=seed)
        self.lr, self.decay, self.iterations, self.warmup = 0.1, 1e-3, 0, 100

    def loss(self, X, y):
        p = self.forward(X)
        l2 = 0.5 * self.decay * (np.sum(self.W1**2) + np.sum(self.W2**2))
        return -np.mean(np.log(p[np.arange(len(y)), y])) + l2

    def train(self, X, y):
        grads = self._gradients(X, y)
        grads["W1"] += self.decay * self.W1
        grads["W2"] += self.decay * self.W2
        rate = self.lr * min(1.0, (self.iterations + 1) / self.warmup)
        for name, g in grads.items():
            getattr(self, name)[...] -= rate * g
        self.iterations += 1


def test_a_warm_up_counter_beside_an_l2_decay_is_not_reset():
    """After 300 of the user's steps the warm-up is over and the step is −lr × the gradient: no finding. (Resetting
    every `iterations` beside a `decay`, as for nnfs, put this model back in its warm-up: scaled-gradient and
    gradient-mismatch on a correct model.)"""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((32, 6)), rng.integers(0, 3, 32)
    model = _WarmupWithL2()
    for _ in range(300):
        model.train(X, y)
    report = _diagnose(model, X, y, 0.1)
    assert report.ok and report.codes() == [], report
