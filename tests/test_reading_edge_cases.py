"""Readings that must not overreach: what a review found when the kit learned to read more idioms
(tests/test_fresh_idioms.py) — a counter driving a learning-rate schedule, a ``train_data`` step that takes its
labels separately, a loss whose first argument is the input, a ``self.batch_size`` on a model trained one
example at a time, a ``predict`` that returns 0/1 floats. Each network here is correct."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.model.adapt import adapt
from gradcheck_kit.model.steps import declared_batch_size


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


class ScheduledTrainer:
    """A blog-style self-training net whose step rate is lr / (1 + decay * self.<counter>), the counter at 0."""

    def __init__(self, counter, seed=4):
        rng = np.random.RandomState(seed)
        self.weights1, self.weights2 = rng.rand(7, 8) - 0.5, rng.rand(8, 3) - 0.5
        self.counter, self.decay = counter, 0.5
        setattr(self, counter, 0)

    def feedforward(self, X):
        self.input, self.layer1 = X, _sigmoid(X @ self.weights1)
        self.output = _sigmoid(self.layer1 @ self.weights2)
        return self.output

    def loss(self, X, y):
        return float(np.sum((y - self.feedforward(X)) ** 2))

    def train(self, X, y, lr):
        lr = lr / (1 + self.decay * getattr(self, self.counter))
        self.feedforward(X)
        delta2 = 2 * (y - self.output) * self.output * (1 - self.output)
        delta1 = delta2 @ self.weights2.T * self.layer1 * (1 - self.layer1)
        self.weights2 += lr * self.layer1.T @ delta2
        self.weights1 += lr * self.input.T @ delta1
        setattr(self, self.counter, getattr(self, self.counter) + 1)


def _data(seed=3):
    rng = np.random.RandomState(seed)
    return np.hstack([rng.randn(48, 6), np.ones((48, 1))]), np.eye(3)[np.arange(48) % 3]


@pytest.mark.parametrize("counter", ["epoch", "steps", "iterations", "epochs"])
def test_a_counter_driving_a_schedule_is_left_as_it_is(counter):
    net = ScheduledTrainer(counter)
    report = gk.diagnose(net, _data(), lr=0.05, progress=False)
    assert report.ok and report.codes() == ["summed-loss"], report  # its loss is a sum: said, and right
    assert getattr(net, counter) == 0


class TrainDataWithTargets(ScheduledTrainer):
    """``train(train_data, targets, lr)``: the data's first argument is named like a list of pairs, but the
    labels come separately."""

    def __init__(self):
        super().__init__("epoch")
        self.decay = 0.0

    def train(self, train_data, targets, lr):
        super().train(train_data, targets, lr)


def test_a_train_data_step_with_its_own_targets_argument_is_not_given_pairs():
    assert gk.diagnose(TrainDataWithTargets(), _data(), lr=0.05, progress=False).ok


class InputNamedA:
    """An autoencoder whose ``cost(A, Y)`` runs the forward pass itself: ``A`` is the input, not the outputs."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.W1, self.b1 = rng.normal(size=(4, 4)) / 2, np.zeros(4)
        self.W2, self.b2 = rng.normal(size=(4, 4)) / 2, np.zeros(4)

    def forward(self, A):
        self.h = np.tanh(A @ self.W1 + self.b1)
        return self.h @ self.W2 + self.b2

    def cost(self, A, Y):
        return float(0.5 * np.mean(np.sum((self.forward(A) - Y) ** 2, axis=1)))

    def backward(self, A, Y):
        d = (self.forward(A) - Y) / len(A)
        dh = (d @ self.W2.T) * (1 - self.h ** 2)
        return {"W2": self.h.T @ d, "b2": d.sum(0), "W1": A.T @ dh, "b1": dh.sum(0)}


def test_a_loss_whose_first_argument_named_A_is_the_input_is_called_with_the_input():
    X = np.random.default_rng(1).normal(size=(20, 4))
    report = gk.diagnose(InputNamedA(), (X, X), progress=False)
    assert report.ok and not report.findings, report


def test_a_batch_size_attribute_alone_does_not_say_how_the_model_trains():
    class Net:
        batch_size = 32

        def train(self, X, y, lr):
            pass

    class Declares:
        def train(self, X, y, learning_rate=1e-3, batch_size=200):
            pass

    assert declared_batch_size(Net()) is None
    assert declared_batch_size(Declares()) == ("train(..., batch_size=200)", 200)


def test_a_predict_that_returns_rounded_floats_is_not_taken_for_the_outputs():
    from tests.idioms.fresh import ng_planar_classifier as ng

    np.random.seed(0)
    model, X, Y, lr = ng.make()
    model.predict = lambda X: np.round(model.forward_propagation(X)[0])  # 0.0 / 1.0 decisions, as floats
    report = gk.diagnose(model, (X, Y), lr=lr, progress=False)
    assert report.ok and not report.findings, report


class ZeroInitRegression:
    """Weights initialised to zeros, a linear output: every output is 0 at the start, and still its outputs."""

    def __init__(self):
        self.W, self.b = np.zeros((3, 1)), np.zeros(1)

    def forward(self, X):
        return X @ self.W + self.b

    def loss(self, X, y):
        return float(0.5 * np.mean((self.forward(X)[:, 0] - y) ** 2))

    def backward(self, X, y):
        d = (self.forward(X)[:, 0] - y)[:, None] / len(X)
        return {"W": X.T @ d, "b": d.sum(0)}


def test_all_zero_outputs_of_a_zero_initialised_network_are_still_its_outputs():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(16, 3))
    batch = (X, X @ np.array([1.0, -2.0, 0.5]))
    view, _ = adapt(ZeroInitRegression(), batch)
    assert view.capabilities.predict and view.outputs_call.describe() == "forward(X)"  # the checks of outputs run
    assert gk.diagnose(ZeroInitRegression(), batch, progress=False).ok
