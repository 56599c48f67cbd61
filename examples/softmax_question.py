"""The question, reproduced: a softmax network that "predicts whatever the most recent label was".

A network with a sigmoid hidden layer, a softmax output and cross-entropy loss is trained one example
at a time. Its author derives the output delta by the chain rule, dE/dz = dE/do · do/dz, and so
multiplies (o − t) by the softmax derivative o·(1 − o) — but for softmax with cross-entropy the
softmax derivative is already folded in: the correct delta is simply (o − t). After training, the
network predicts the label it was trained on last, whatever the input.

This script shows, with real numbers on the 8×8 handwritten digits shipped with gradcheck_kit:

1. the symptom: after each late training step, the share of held-out digits predicted as the label
   just trained;
2. what `gradcheck_kit.diagnose` says about that network;
3. the honest second ingredient: fixing the delta alone, at the same step size on raw 0..16 pixels,
   still collapses;
4. the fixed network with normalised inputs and a smaller step passes `diagnose` and learns.

Run:  python examples/softmax_question.py
"""

from __future__ import annotations

import shutil
import textwrap

import numpy as np

import gradcheck_kit as gk
from gradcheck_kit.io import load_digits

LAST_STEPS = 100  # the symptom is measured over the last this-many training steps


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(z, -500, 500)))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class QuestionNet:
    """The network as the question writes it: weights as attributes, trained by ``train(x, t, lr)``."""

    def __init__(self, n_in: int = 64, n_hidden: int = 32, n_out: int = 10, *, seed: int = 0,
                 fixed: bool = False) -> None:
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(size=(n_in, n_hidden))  # randn initialisation, as in the question
        self.b1 = np.zeros(n_hidden)
        self.W2 = rng.normal(size=(n_hidden, n_out))
        self.b2 = np.zeros(n_out)
        self.fixed = fixed

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.h = sigmoid(x @ self.W1 + self.b1)
        self.o = softmax(self.h @ self.W2 + self.b2)
        return self.o

    def train(self, x: np.ndarray, labels: np.ndarray, lr: float) -> None:
        o = self.forward(x)
        t = np.eye(o.shape[1])[labels]
        # Step 1: output delta. dE/dz = dE/do * do/dz ...
        if self.fixed:
            delta_out = o - t  # ... which for softmax + cross-entropy is simply o - t
        else:
            delta_out = (o - t) * o * (1 - o)  # ... the question's version: softmax derivative applied again
        # Step 2: hidden delta, through W2 and the sigmoid derivative.
        delta_hidden = (delta_out @ self.W2.T) * self.h * (1 - self.h)
        # Step 3: gradient-descent updates (averaged over the examples given, one in the question).
        n = len(x)
        self.W2 -= lr * self.h.T @ delta_out / n
        self.b2 -= lr * delta_out.sum(axis=0) / n
        self.W1 -= lr * x.T @ delta_hidden / n
        self.b1 -= lr * delta_hidden.sum(axis=0) / n


def train_one_at_a_time(net: QuestionNet, X: np.ndarray, y: np.ndarray, lr: float,
                        X_test: np.ndarray, y_test: np.ndarray) -> tuple[float, float]:
    """Train on each example once, in order. Returns (median share of test digits predicted as the label
    just trained, over the last steps; test accuracy at the end)."""
    shares = []
    with np.errstate(over="ignore"):
        for i in range(len(X)):
            net.train(X[i:i + 1], y[i:i + 1], lr)
            if i >= len(X) - LAST_STEPS:
                shares.append(np.mean(net.forward(X_test).argmax(axis=1) == y[i]))
        accuracy = float(np.mean(net.forward(X_test).argmax(axis=1) == y_test))
    return float(np.median(shares)), accuracy


def say(text: str, indent: str = "") -> None:
    """Print prose wrapped at word boundaries to the console's width ($COLUMNS, else the terminal's, else 80)."""
    width = shutil.get_terminal_size((80, 24)).columns
    print(textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False))


def main() -> None:
    X, y = load_digits()
    X = X.astype(float)
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1500], order[1500:]
    batch = train[:64]  # what diagnose looks at
    say(f"8x8 digits: {len(train)} training and {len(test)} held-out examples; pixels 0..16 (raw).")
    print()
    say("1. The question's network, lr 1.0, raw pixels, trained one example at a time:")
    net = QuestionNet()
    share, accuracy = train_one_at_a_time(net, X[train], y[train], 1.0, X[test], y[test])
    say(f"over the last {LAST_STEPS} steps, a median {share:.0%} of held-out digits are predicted as the label "
        f"just trained (one class is 10%); held-out accuracy {accuracy:.0%}.", "   ")
    print()
    say("2. gradcheck_kit.diagnose(net, (X[:64], y[:64]), lr=1.0):")
    report = gk.diagnose(net, (X[batch], y[batch]), lr=1.0)
    report.print()

    print()
    say("3. Only the delta fixed (o - t), same lr 1.0 and raw pixels:")
    fixed = QuestionNet(fixed=True)
    share, accuracy = train_one_at_a_time(fixed, X[train], y[train], 1.0, X[test], y[test])
    say(f"median share predicted as the last label {share:.0%}; held-out accuracy {accuracy:.0%}: the symptom "
        f"stays, so the step size and input scale are the second ingredient.", "   ")
    report = gk.diagnose(fixed, (X[batch], y[batch]), lr=1.0)
    say(f"diagnose: {report.verdict}; findings: {', '.join(report.codes())}", "   ")

    print()
    say("4. Delta fixed, inputs scaled to 0..1 (X / 16), lr 0.1:")
    good = QuestionNet(fixed=True)
    share, accuracy = train_one_at_a_time(good, X[train] / 16, y[train], 0.1, X[test] / 16, y[test])
    say(f"median share predicted as the last label {share:.0%}; held-out accuracy {accuracy:.0%}.", "   ")
    report = gk.diagnose(good, (X[batch] / 16, y[batch]), lr=0.1)
    say(f"diagnose: {report.verdict}", "   ")


if __name__ == "__main__":
    main()
