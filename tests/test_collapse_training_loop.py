"""label-collapse replays the question's loop, one example per step. A model whose own training method says
it is handed the training set (``train(X, y, *, epochs=1)``, ``fit(X, y)`` reading ``self.epochs``) is
trained the way that method steps: probed on a few examples, one step on all of them at once gets no
one-example replay (and a note says why), while a method that loops over the examples inside still does.

The networks below are written the way from-scratch code writes them: nnfs's ``Model`` (tests/idioms/fresh),
a blog network with lists of weights and an ``epochs`` loop over single examples, and a class whose
``fit`` does full-batch gradient descent for ``self.epochs`` passes.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import itertools

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.io import load_digits

NOT_RUN = "label-collapse was not run"


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class EpochLoopNetwork:
    """Lists of weights; ``train`` loops over epochs and, inside, over single examples (row vectors),
    updating after each one. ``doubled=True`` is the question's output delta (o − t)·o·(1 − o)."""

    def __init__(self, sizes, seed=0, doubled=False):
        rng = np.random.default_rng(seed)
        self.weights = [rng.normal(size=(m, n)) for m, n in itertools.pairwise(sizes)]
        self.biases = [np.zeros(n) for n in sizes[1:]]
        self.doubled = doubled

    def feedforward(self, X):
        h = _sigmoid(X @ self.weights[0] + self.biases[0])
        return _softmax(h @ self.weights[1] + self.biases[1])

    def cost(self, X, y):
        p = self.feedforward(X)
        return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))

    def train(self, X, y, epochs=1, lr=1.0):
        for _ in range(epochs):
            for x, label in zip(X, y):
                h = _sigmoid(x @ self.weights[0] + self.biases[0])
                o = _softmax(h @ self.weights[1] + self.biases[1])
                t = np.zeros_like(o)
                t[label] = 1.0
                delta = (o - t) * o * (1 - o) if self.doubled else o - t
                delta_h = (self.weights[1] @ delta) * h * (1 - h)
                self.weights[1] -= lr * np.outer(h, delta)
                self.biases[1] -= lr * delta
                self.weights[0] -= lr * np.outer(x, delta_h)
                self.biases[0] -= lr * delta_h


class RandomPickNetwork(EpochLoopNetwork):
    """A tutorial's "stochastic" gradient descent: each step trains on one example picked at random."""

    def train(self, X, y, epochs=1, lr=1.0):
        for _ in range(epochs * len(X)):
            i = np.random.randint(len(X))
            super().train(X[i:i + 1], y[i:i + 1], epochs=1, lr=lr)


class FullBatchClassifier:
    """``fit(X, y)`` does ``self.epochs`` steps of full-batch gradient descent (the gradient averaged over
    the examples); ``predict_proba`` predicts, ``loss`` is the mean cross-entropy."""

    def __init__(self, n_in, n_hidden, n_out, lr=1.0, epochs=200, seed=0, doubled=False):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(size=(n_in, n_hidden))
        self.b1 = np.zeros(n_hidden)
        self.W2 = rng.normal(size=(n_hidden, n_out))
        self.b2 = np.zeros(n_out)
        self.lr, self.epochs, self.doubled = lr, epochs, doubled

    def predict_proba(self, X):
        self.h = _sigmoid(X @ self.W1 + self.b1)
        return _softmax(self.h @ self.W2 + self.b2)

    def loss(self, X, y):
        p = self.predict_proba(X)
        return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))

    def fit(self, X, y):
        n = len(X)
        for _ in range(self.epochs):
            o = self.predict_proba(X)
            t = np.eye(o.shape[1])[y]
            delta = (o - t) * o * (1 - o) if self.doubled else o - t
            delta_h = (delta @ self.W2.T) * self.h * (1 - self.h)
            self.W2 -= self.lr * self.h.T @ delta / n
            self.b2 -= self.lr * delta.sum(axis=0) / n
            self.W1 -= self.lr * X.T @ delta_h / n
            self.b1 -= self.lr * delta_h.sum(axis=0) / n
        return self


@pytest.fixture(scope="module")
def digits():
    """600 digits to train on first (as the question's network is, before it collapses), and a batch of 64."""
    X, y = load_digits()
    X = X.astype(float)
    return (X[:600], y[:600]), (X[600:664], y[600:664])


def _train_one_at_a_time(net, X, y, lr=1.0):
    """The question's loop: its train(x, labels, lr) called on each example in turn."""
    with np.errstate(over="ignore"):
        for i in range(len(X)):
            net.train(X[i:i + 1], y[i:i + 1], lr)


def _after_the_question_loop(net, digits):
    """The report at lr 1 after the question's loop over the 600 training digits at lr 1."""
    (X_train, y_train), (X, y) = digits
    _train_one_at_a_time(net, X_train, y_train)
    return _diagnose(net, X, y, 1.0)


def _diagnose(model, X, y, lr):
    with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):  # the models' own prints
        return gk.diagnose(model, (X, y), lr=lr, progress=False)


@pytest.mark.parametrize("lr", [1.0, 0.05])
def test_nnfs_model_trained_on_the_whole_set_raises_no_collapse(lr):
    """nnfs's correct Model with SGD and momentum, at the book's rate 1.0 and a small one: replayed one example
    at a time on its class-sorted toy data its predictions did follow the last label, but its train(X, y, *,
    epochs) steps once on all it is given — no alarm, a note with the reason."""
    module = importlib.import_module("tests.idioms.fresh.nnfs_model")
    model, X, y, _ = module.make(buggy=False)
    report = _diagnose(model, X, y, lr)
    assert report.ok and report.codes() == [], report
    assert any(note.startswith(f"{NOT_RUN}: train(..., epochs) makes its own passes") for note in report.notes), (
        report.notes)


def test_a_training_method_that_loops_over_single_examples_is_still_replayed(digits):
    """train(X, y, epochs, lr) steps once per example inside: the question's loop, in the method. With the
    doubled softmax derivative at lr 1 on raw pixels the replay runs and finds the collapse; fixed, on scaled
    pixels at lr 0.1, it runs and finds none."""
    (X_train, y_train), (X, y) = digits
    buggy = EpochLoopNetwork([64, 32, 10], doubled=True)
    with np.errstate(over="ignore"):
        buggy.train(X_train, y_train, epochs=1, lr=1.0)
    report = _diagnose(buggy, X, y, 1.0)
    assert "label-collapse" in report.codes(), report
    fixed = EpochLoopNetwork([64, 32, 10])
    fixed.train(X_train / 16, y_train, epochs=1, lr=0.1)
    fixed = _diagnose(fixed, X / 16, y, 0.1)
    assert "label-collapse" not in fixed.codes() and not any(NOT_RUN in n for n in fixed.notes), fixed


def test_full_batch_fit_is_not_replayed_one_example_at_a_time(digits):
    """fit(X, y) with self.epochs full-batch steps: the doubled softmax derivative is still named from the
    gradient read off the step, but no label-collapse — this network never takes a one-example step."""
    _, (X, y) = digits
    report = _diagnose(FullBatchClassifier(64, 32, 10, doubled=True), X, y, 1.0)
    assert "doubled-softmax-derivative" in report.codes() and "label-collapse" not in report.codes(), report
    assert any(f"{NOT_RUN}: fit(...) reading self.epochs = 200" in note for note in report.notes), report.notes
    correct = _diagnose(FullBatchClassifier(64, 32, 10), X / 16, y, 0.1)
    assert correct.ok, correct


def test_the_question_network_without_a_pass_count_is_replayed(digits):
    """The question's train(x, labels, lr) steps once on what it is given and counts no passes: how often it is
    called is the user's loop (one example at a time in the question), so the replay runs and names it."""
    from examples.softmax_question import QuestionNet

    report = _after_the_question_loop(QuestionNet(), digits)
    assert "label-collapse" in report.codes(), report


def test_a_random_pick_per_step_is_still_replayed(digits):
    """train(X, y, epochs, lr) training on a randomly picked example per step is no one update along the batch's
    gradient: the probe cannot call it a full-batch step, so the question's bug is still found."""
    (X_train, y_train), (X, y) = digits
    np.random.seed(0)
    net = RandomPickNetwork([64, 32, 10], doubled=True)
    with np.errstate(over="ignore"):
        EpochLoopNetwork.train(net, X_train, y_train, epochs=1, lr=1.0)
    report = _diagnose(net, X, y, 1.0)
    assert "label-collapse" in report.codes(), report


def test_a_pass_count_the_training_step_does_not_read_is_not_a_declaration(digits):
    """The question's network with a fit() that loops over single examples for self.epochs: the training step the
    kit uses is train(x, labels, lr), which never reads self.epochs — still the question's loop, still replayed."""
    from examples.softmax_question import QuestionNet

    class WithFit(QuestionNet):
        def __init__(self):
            super().__init__()
            self.epochs = 10

        def fit(self, X, y, lr):
            for _ in range(self.epochs):
                for i in range(len(X)):
                    self.train(X[i:i + 1], y[i:i + 1], lr)

    report = _after_the_question_loop(WithFit(), digits)
    assert "label-collapse" in report.codes(), report


def test_the_step_probe_leaves_no_optimizer_state_behind(monkeypatch):
    """The probe steps the private copy from its frozen state; afterwards the state is put back too, so a replay
    that follows starts without the probe's momentum (nnfs creates its momentum arrays on the first update)."""
    from gradcheck_kit.model.view import ModelView

    seen = []
    probe = ModelView.step_is_one_update

    def watched(self, batch):
        result = probe(self, batch)
        seen.append([hasattr(layer, "weight_momentums") for layer in self.target.trainable_layers])
        return result

    monkeypatch.setattr(ModelView, "step_is_one_update", watched)
    model, X, y, _ = importlib.import_module("tests.idioms.fresh.nnfs_model").make(buggy=False)
    _diagnose(model, X, y, 1.0)
    assert seen == [[False, False]]


def test_a_declared_batch_size_of_one_is_replayed(digits):
    """A Keras-like fit(X, y, epochs=5, batch_size=1) with the question's update: it steps one example at a time.
    The kit's own step of it takes the whole batch (batch_size raised to the batch), which the probe must not
    take for the model's way of training."""
    from examples.softmax_question import QuestionNet

    class KerasLike:
        def __init__(self, learning_rate=1.0):
            self.net, self.learning_rate = QuestionNet(), learning_rate

        def predict(self, X):
            return self.net.forward(X)

        def fit(self, X, y, epochs=5, batch_size=1):
            for _ in range(epochs):
                for start in range(0, len(X), batch_size):
                    self.net.train(X[start:start + batch_size], y[start:start + batch_size], self.learning_rate)
            return self

    (X_train, y_train), (X, y) = digits
    model = KerasLike()
    with np.errstate(over="ignore"):
        model.fit(X_train, y_train, epochs=1)
    report = _diagnose(model, X, y, 1.0)
    assert "label-collapse" in report.codes(), report
