"""Layer-by-layer checks that respect the whole network (issue 11, item 4).

The layers here are written as column-vector layer objects usually are: ``forward(input)`` caching the
input, ``backward(output_gradient, learning_rate)`` updating the weights in place and returning the
input gradient; the data a stack of column vectors (N, n, 1); ``@`` where such code uses it, so a
whole batch goes through forward (broadcast) but not through backward.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk


class Dense:
    def __init__(self, n_in, n_out, rng, bug=None):
        self.weights = rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in))
        self.bias = np.zeros((n_out, 1))
        self.bug = bug

    def forward(self, input):
        self.input = input
        return self.weights @ input + self.bias

    def backward(self, output_gradient, learning_rate):
        weights_gradient = output_gradient @ self.input.T
        input_gradient = self.weights.T @ output_gradient
        if self.bug == "dx_shape":
            input_gradient = input_gradient[:-1]
        if self.bug == "bias_doubled":
            output_gradient = 2 * output_gradient
        self.weights -= learning_rate * weights_gradient
        self.bias -= learning_rate * output_gradient
        return input_gradient


class ReLU:
    def __init__(self, bug=None):
        self.bug = bug

    def forward(self, input):
        self.input = input
        return np.maximum(0, input)

    def backward(self, output_gradient, learning_rate):
        if self.bug == "threshold":
            return output_gradient * (self.input > 0.3)
        return output_gradient * (self.input > 0)


class Softmax:
    """Softmax whose backward passes the gradient through: the loss's derivative below is already o − t."""

    def forward(self, input):
        e = np.exp(input - input.max())
        self.output = e / e.sum()
        return self.output

    def backward(self, output_gradient, learning_rate):
        return output_gradient


def cross_entropy(y_true, y_pred):
    return -np.sum(y_true * np.log(y_pred))


def cross_entropy_prime_after_softmax(y_true, y_pred):
    return y_pred - y_true


class StrictCrossEntropy:
    """A loss layer as in layer libraries: forward(y_pred, y_true) → loss, checking that its input is a
    probability vector (so it rejects the perturbed inputs of a finite difference)."""

    def forward(self, y_pred, y_true):
        assert abs(y_pred.sum() - 1.0) < 1e-12, "predictions must sum to 1"
        self.y_pred, self.y_true = y_pred, y_true
        return float(-np.sum(y_true * np.log(y_pred)))

    def backward(self):
        return -self.y_true / self.y_pred


class SoftmaxJacobian(Softmax):
    def backward(self, output_gradient, learning_rate):
        o = self.output
        return (np.diagflat(o) - o @ o.T) @ output_gradient


def network(relu_bug=None, dense_bug=None, second_dense_bug=None, n_out=3):
    rng = np.random.default_rng(1)
    return [Dense(4, 5, rng, bug=dense_bug), ReLU(relu_bug), Dense(5, n_out, rng, bug=second_dense_bug), Softmax()]


@pytest.fixture
def columns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 4, 1))
    Y = np.eye(3)[rng.integers(0, 3, 6)][:, :, None]
    return X, Y


FUSED = (cross_entropy, cross_entropy_prime_after_softmax)


@pytest.mark.parametrize("seed", range(4))
def test_softmax_and_loss_fused_across_two_layers_is_not_a_false_alarm(columns, seed):
    report = gk.diagnose(network(), columns, loss=FUSED, seed=seed, progress=False)
    assert report.ok, report
    explained = [t for t in report.isolated if t.explained]
    assert {t.param for t in explained} == {"3:Softmax.x", "4:cross_entropy.x"}, report.isolated
    assert "one loss split across two layers" in explained[0].explained
    assert any("one example at a time" in n for n in report.notes), report.notes


def test_fused_boundary_does_not_take_the_blame_for_a_real_bug_elsewhere(columns):
    report = gk.diagnose(network(relu_bug="threshold"), columns, loss=FUSED, progress=False)
    assert not report.ok
    assert report.first_wrong_layer == "1:ReLU", report
    assert {f.layer for f in report.errors if f.code == "backward-mismatch"} == {"1:ReLU"}, report
    assert "doubled-softmax-derivative" not in {f.code for f in report.findings}


def test_fused_pair_that_is_wrong_together_is_still_caught(columns):
    """o − t pushed through a softmax backward that is *not* the identity: the pair is wrong together."""
    net = network()
    net[-1] = SoftmaxJacobian()
    report = gk.diagnose(net, columns, loss=FUSED, progress=False)
    assert not report.ok
    assert "doubled-softmax-derivative" in {f.code for f in report.errors}, report


def test_wrong_shaped_dx_is_an_error_naming_the_layer_and_both_shapes(columns):
    with pytest.raises(gk.ModelInterfaceError) as caught:
        gk.diagnose(network(second_dense_bug="dx_shape"), columns, loss=FUSED, progress=False)
    message = str(caught.value)
    assert "2:Dense" in message and "(4, 1)" in message and "(5, 1)" in message, message


def test_first_layer_may_skip_its_input_gradient(columns):
    class FirstDense(Dense):
        def backward(self, output_gradient, learning_rate):
            super().backward(output_gradient, learning_rate)
            # nothing upstream needs it

    net = network()
    net[0] = FirstDense(4, 5, np.random.default_rng(1))
    report = gk.diagnose(net, columns, loss=FUSED, progress=False)
    assert report.ok, report
    assert "0:FirstDense.x" not in {t.param for t in report.isolated}


def strict_network():
    net = network()
    net[-1] = SoftmaxJacobian()
    return [*net, StrictCrossEntropy()]


def test_exception_in_a_user_layer_is_a_model_call_error_naming_it(columns):
    with pytest.raises(gk.ModelCallError) as caught:
        gk.diagnose(strict_network(), columns, progress=False)
    message = str(caught.value)
    assert "4:StrictCrossEntropy.forward" in message and "AssertionError" in message, message


def test_user_layer_error_leaves_the_model_untouched(columns):
    net = strict_network()
    before = [layer.weights.copy() for layer in net if isinstance(layer, Dense)]
    with pytest.raises(gk.ModelCallError):
        gk.diagnose(net, columns, progress=False)
    after = [layer.weights for layer in net if isinstance(layer, Dense)]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(after, before, strict=True))


def test_column_bias_gradient_off_by_two_is_never_called_transposed(columns):
    report = gk.diagnose(network(second_dense_bug="bias_doubled"), columns, loss=FUSED, progress=False)
    assert not report.ok
    codes = {f.code for f in report.errors}
    assert "transposed-gradient" not in codes, report
    assert "scaled-gradient" in codes, report
