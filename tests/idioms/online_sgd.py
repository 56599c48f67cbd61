"""Networks trained one example at a time, each update seen by the next example.

Idiom
-----
Two common shapes of "stochastic" training code in from-scratch tutorials:

* ``ColumnNet`` — the style of a popular beginners' book class: ``__init__(inputnodes,
  hiddennodes, outputnodes, learningrate)`` keeps the rate on ``self.lr``; weights ``wih``
  and ``who`` with no biases; ``train(inputs_list, targets_list)`` takes ONE example as plain
  lists, turns them into column vectors with ``np.array(..., ndmin=2).T``, computes
  ``output_errors = targets - final_outputs`` and updates with ``+=``; ``query(inputs_list)``
  predicts. There is no cost method and no gradient method: the only way to a gradient is the
  training step. The cost it descends is ½‖t − o‖² (sigmoid outputs).
* ``LoopNet`` — ``train(X, y, learning_rate, epochs=1)`` loops over the rows of a batch and
  updates after every example (row vectors, biases of shape (n,)); ``cost(X, y)`` is the mean
  over examples of ½‖o − t‖² and ``feedforward(X)`` predicts.

Both are correct by default; ``bug=`` injects one realistic mistake:

* ``"no_output_derivative"``: the output delta forgets σ′(z) (``o − t`` with a squared-error
  cost).
* ``"hidden_derivative_of_outputs"``: the hidden delta multiplies by σ′ of the *outputs*
  instead of the hidden activations (a copy-paste slip; layer 1 is wrong).
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class ColumnNet:
    def __init__(self, inputnodes, hiddennodes, outputnodes, learningrate, seed=0, bug=None):
        self.inodes = inputnodes
        self.hnodes = hiddennodes
        self.onodes = outputnodes
        rng = np.random.RandomState(seed)
        self.wih = rng.normal(0.0, pow(self.inodes, -0.5), (self.hnodes, self.inodes))
        self.who = rng.normal(0.0, pow(self.hnodes, -0.5), (self.onodes, self.hnodes))
        self.lr = learningrate
        self.activation_function = sigmoid
        self.bug = bug

    def train(self, inputs_list, targets_list):
        inputs = np.array(inputs_list, ndmin=2).T
        targets = np.array(targets_list, ndmin=2).T
        hidden_outputs = self.activation_function(np.dot(self.wih, inputs))
        final_outputs = self.activation_function(np.dot(self.who, hidden_outputs))
        output_errors = targets - final_outputs
        hidden_errors = np.dot(self.who.T, output_errors * final_outputs * (1.0 - final_outputs))
        if self.bug == "no_output_derivative":
            out_delta = output_errors
            hidden_errors = np.dot(self.who.T, output_errors)
        else:
            out_delta = output_errors * final_outputs * (1.0 - final_outputs)
        if self.bug == "hidden_derivative_of_outputs":
            hid_delta = hidden_errors * np.mean(final_outputs * (1.0 - final_outputs))
        else:
            hid_delta = hidden_errors * hidden_outputs * (1.0 - hidden_outputs)
        self.who += self.lr * np.dot(out_delta, np.transpose(hidden_outputs))
        self.wih += self.lr * np.dot(hid_delta, np.transpose(inputs))

    def query(self, inputs_list):
        inputs = np.array(inputs_list, ndmin=2).T
        hidden_outputs = self.activation_function(np.dot(self.wih, inputs))
        return self.activation_function(np.dot(self.who, hidden_outputs))


class LoopNet:
    def __init__(self, n_in, n_hidden, n_out, seed=0, bug=None, zero_biases=True):
        rng = np.random.default_rng(seed)
        self.w1 = rng.normal(0, 1, (n_in, n_hidden))
        self.w2 = rng.normal(0, 1, (n_hidden, n_out))
        self.b1 = np.zeros(n_hidden) if zero_biases else rng.normal(0, 0.1, n_hidden)
        self.b2 = np.zeros(n_out) if zero_biases else rng.normal(0, 0.1, n_out)
        self.bug = bug

    def feedforward(self, x):
        self.hidden = sigmoid(x @ self.w1 + self.b1)
        self.output = sigmoid(self.hidden @ self.w2 + self.b2)
        return self.output

    def cost(self, X, y):
        return 0.5 * np.mean(np.sum((self.feedforward(X) - y) ** 2, axis=-1))

    def train(self, X, y, learning_rate, epochs=1):
        for _ in range(epochs):
            for x, t in zip(X, y):
                o = self.feedforward(x)
                if self.bug == "no_output_derivative":
                    d_out = o - t
                else:
                    d_out = (o - t) * o * (1 - o)
                if self.bug == "hidden_derivative_of_outputs":
                    d_hid = (d_out @ self.w2.T) * np.mean(o * (1 - o))
                else:
                    d_hid = (d_out @ self.w2.T) * self.hidden * (1 - self.hidden)
                self.w2 -= learning_rate * np.outer(self.hidden, d_out)
                self.b2 -= learning_rate * d_out
                self.w1 -= learning_rate * np.outer(x, d_hid)
                self.b1 -= learning_rate * d_hid


def make_data(n=8, n_in=3, n_out=2, seed=1):
    """Inputs in [0.01, 1] as the book scales pixels; targets 0.01 / 0.99 (one-hot-ish)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.01, 1.0, (n, n_in))
    labels = rng.integers(0, n_out, n)
    Y = np.full((n, n_out), 0.01)
    Y[np.arange(n), labels] = 0.99
    return X, Y
