"""Layer objects as people write them, beyond the idiom modules: layers that rebind their weights, batch
norm on rows, layers checked after training (caches and stored gradients on them), an L2 term in a
layer's backward next to a real bug elsewhere, loss objects that keep per-sample losses, backwards that
return their gradients, and a first layer whose unused dx has the wrong shape. Each correct network
must pass; each seeded bug must fail where it is."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from tests.idioms import nnfs_style as ns


# -- rows: Dense, BatchNorm (batch statistics), Tanh, softmax + cross-entropy ---------------------------
class Dense:
    def __init__(self, n_in, n_out, rng, bug=None):
        self.W = rng.standard_normal((n_in, n_out)) * 0.5
        self.b = np.zeros(n_out)
        self.bug = bug

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        self.dW = self.x.T @ grad
        self.db = grad.sum(axis=0) * (-1 if self.bug == "bias_sign" else 1)
        return grad @ self.W.T


class ReturningDense(Dense):
    """backward returns (dx, grads) instead of storing them."""

    def backward(self, grad):
        return grad @ self.W.T, {"W": self.x.T @ grad, "b": grad.sum(axis=0)}


class PreallocatedDense(Dense):
    """Gradient buffers allocated up front, as many courses do."""

    def __init__(self, n_in, n_out, rng, bug=None):
        super().__init__(n_in, n_out, rng, bug)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)


class BatchNorm:
    def __init__(self, d):
        self.gamma = np.ones(d)
        self.beta = np.zeros(d)

    def forward(self, x):
        self.mu, self.var = x.mean(axis=0), x.var(axis=0)
        self.xhat = (x - self.mu) / np.sqrt(self.var + 1e-5)
        return self.gamma * self.xhat + self.beta

    def backward(self, grad):
        n = grad.shape[0]
        self.dgamma = (grad * self.xhat).sum(axis=0)
        self.dbeta = grad.sum(axis=0)
        dxhat = grad * self.gamma
        return (dxhat * n - dxhat.sum(axis=0) - self.xhat * (dxhat * self.xhat).sum(axis=0)) / (
            n * np.sqrt(self.var + 1e-5))


class Tanh:
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad):
        return grad * (1 - self.y**2)


class SoftmaxCrossEntropy:
    def forward(self, x, y):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.p, self.y = e / e.sum(axis=1, keepdims=True), y
        return -np.mean(np.log(self.p[np.arange(len(y)), y]))

    def backward(self):
        d = self.p.copy()
        d[np.arange(len(self.y)), self.y] -= 1
        return d / len(self.y)


@pytest.fixture
def rows():
    rng = np.random.default_rng(0)
    return rng.standard_normal((16, 4)), rng.integers(0, 3, 16)


def test_batch_norm_on_rows_is_run_on_the_whole_batch(rows):
    rng = np.random.default_rng(1)
    report = gk.diagnose([Dense(4, 6, rng), BatchNorm(6), Tanh(), Dense(6, 3, rng), SoftmaxCrossEntropy()], rows,
                         progress=False)
    assert report.ok, report
    assert not any("one example at a time" in n for n in report.notes)


def test_batch_norm_network_with_a_bias_sign_bug_fails_there(rows):
    rng = np.random.default_rng(1)
    layers = [Dense(4, 6, rng), BatchNorm(6), Tanh(), Dense(6, 3, rng, bug="bias_sign"), SoftmaxCrossEntropy()]
    report = gk.diagnose(layers, rows, progress=False)
    assert report.first_wrong_layer == "3:Dense", report
    assert "sign-flipped" in {f.code for f in report.errors}


@pytest.mark.parametrize("cls", [ReturningDense, PreallocatedDense])
def test_gradients_returned_or_kept_in_preallocated_buffers_are_read(rows, cls):
    rng = np.random.default_rng(1)
    report = gk.diagnose([cls(4, 5, rng), Tanh(), cls(5, 3, rng), SoftmaxCrossEntropy()], rows, progress=False)
    assert report.ok, report
    assert {t.param for t in report.tensors} == {"0:" + cls.__name__ + ".W", "0:" + cls.__name__ + ".b",
                                                  "2:" + cls.__name__ + ".W", "2:" + cls.__name__ + ".b"}


# -- nnfs layers after training: caches, stored gradients and an L2 term ------------------------------------
def nnfs_layers(bug=None, l2=0.0):
    np.random.seed(0)
    return list(ns.build_layers(weight_regularizer_l2=l2, bias_regularizer_l2=l2, zero_biases=False, bug=bug).values())


def test_layers_checked_after_training_leave_their_caches_out():
    layers = nnfs_layers()
    X, y = ns.make_data()
    for _ in range(3):  # the usual workflow: train a little, then check
        out = X
        for layer in layers[:-1]:
            layer.forward(out)
            out = layer.output
        layers[-1].forward(out, y)
        layers[-1].backward(layers[-1].output, y)
        grad = layers[-1].dinputs
        for layer in reversed(layers[:-1]):
            layer.backward(grad)
            grad = layer.dinputs
    report = gk.diagnose(layers, (X, y), progress=False)
    assert report.ok, report
    assert all(t.param.endswith(("weights", "biases")) for t in report.tensors), [t.param for t in report.tensors]
    assert any("are not parameters" in n and "dinputs" in n for n in report.notes), report.notes


@pytest.mark.parametrize("bug", ["softmax_derivative_twice", "relu_mask_dvalues"])
def test_l2_in_a_layers_backward_is_not_blamed_for_a_bug_elsewhere(bug):
    report = gk.diagnose(nnfs_layers(bug, l2=5e-3), ns.make_data(), progress=False)
    assert not report.ok
    blamed = {f.layer for f in report.errors if f.code == "backward-mismatch"}
    assert blamed and not any("Layer_Dense" in layer for layer in blamed), blamed


class LossKeepingSampleLosses:
    """A loss object that keeps its per-sample losses in self.output (for logging)."""

    def forward(self, y_pred, y_true):
        self.output = np.mean((y_true - y_pred) ** 2, axis=-1)
        return self.output

    def backward(self, dvalues, y_true):
        self.dinputs = -2 * (y_true - dvalues) / dvalues.shape[1] / len(dvalues)


def test_a_loss_object_keeping_per_sample_losses_gets_the_outputs_in_backward():
    np.random.seed(0)
    layers = [ns.Layer_Dense(3, 5), ns.Activation_ReLU(), ns.Layer_Dense(5, 2), LossKeepingSampleLosses()]
    rng = np.random.default_rng(0)
    report = gk.diagnose(layers, (rng.standard_normal((8, 3)), rng.standard_normal((8, 2))), progress=False)
    assert report.ok, report


# -- column vectors: a layer that rebinds its weights, a first layer's dx of the wrong shape ------------------
class ColumnDense:
    def __init__(self, n_in, n_out, rng, rebind=False, dx_shape_bug=False):
        self.weights = rng.standard_normal((n_out, n_in)) * 0.5
        self.bias = rng.standard_normal((n_out, 1)) * 0.1
        self.rebind, self.dx_shape_bug = rebind, dx_shape_bug

    def forward(self, x):
        self.input = x
        return self.weights @ x + self.bias

    def backward(self, output_gradient, learning_rate):
        dW = output_gradient @ self.input.T
        dx = self.weights.T @ output_gradient
        if self.rebind:  # a new array each step, not an update in place
            self.weights = self.weights - learning_rate * dW
            self.bias = self.bias - learning_rate * output_gradient
        else:
            self.weights -= learning_rate * dW
            self.bias -= learning_rate * output_gradient
        return dx.T if self.dx_shape_bug else dx


class ColumnTanh:
    def forward(self, x):
        self.input = x
        return np.tanh(x)

    def backward(self, output_gradient, learning_rate):
        return output_gradient * (1 - np.tanh(self.input) ** 2)


def mse(y_true, y_pred):
    return np.mean((y_true - y_pred) ** 2)


def mse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true) / np.size(y_true)


@pytest.fixture
def columns():
    rng = np.random.default_rng(0)
    return rng.standard_normal((8, 3, 1)), rng.uniform(-0.5, 0.5, (8, 2, 1))


def test_a_layer_that_rebinds_its_weights_is_still_perturbed(columns):
    rng = np.random.default_rng(0)
    net = [ColumnDense(3, 5, rng, rebind=True), ColumnTanh(), ColumnDense(5, 2, rng, rebind=True), ColumnTanh()]
    before = [layer.weights for layer in net if isinstance(layer, ColumnDense)]
    report = gk.diagnose(net, columns, loss=(mse, mse_prime), progress=False)
    assert report.ok, report
    assert all(layer.weights is w for layer, w in zip(net[::2], before, strict=True))


def test_a_first_layers_wrong_shaped_dx_is_a_warning_and_the_rest_is_checked(columns):
    rng = np.random.default_rng(0)
    net = [ColumnDense(3, 5, rng, dx_shape_bug=True), ColumnTanh(), ColumnDense(5, 2, rng), ColumnTanh()]
    report = gk.diagnose(net, columns, loss=(mse, mse_prime), progress=False)
    warning = report.finding("backward-mismatch")
    assert warning is not None and warning.severity == "warning", report
    assert "(1, 3)" in warning.message and "(3, 1)" in warning.message
    assert report.ok and len(report.tensors) == 4


# -- a softmax layer written for cross-entropy's upstream gradient (one non-zero entry), as a CNN tutorial does --
class SoftmaxLayer:
    """Fully connected + softmax; backprop(d_L_d_out, learn_rate) uses only the non-zero entry of d_L_d_out."""

    def __init__(self, input_len, nodes, rng):
        self.weights = rng.standard_normal((input_len, nodes)) / input_len
        self.biases = np.zeros(nodes)

    def forward(self, input):
        self.last_input = input.flatten()
        self.last_totals = self.last_input @ self.weights + self.biases
        exp = np.exp(self.last_totals)
        return exp / np.sum(exp, axis=0)

    def backprop(self, d_L_d_out, learn_rate):
        for i, gradient in enumerate(d_L_d_out):
            if gradient == 0:
                continue
            t_exp = np.exp(self.last_totals)
            S = np.sum(t_exp)
            d_out_d_t = -t_exp[i] * t_exp / (S**2)
            d_out_d_t[i] = t_exp[i] * (S - t_exp[i]) / (S**2)
            d_L_d_t = gradient * d_out_d_t
            d_L_d_inputs = self.weights @ d_L_d_t
            self.weights -= learn_rate * np.outer(self.last_input, d_L_d_t)
            self.biases -= learn_rate * d_L_d_t
            return d_L_d_inputs
        return np.zeros(self.last_input.shape)


class ReluLayer:
    def __init__(self, bug=None):
        self.bug = bug

    def forward(self, input):
        self.last_input = input
        return np.maximum(input, 0)

    def backprop(self, d_L_d_out, learn_rate):
        return d_L_d_out * (self.last_input > (-0.5 if self.bug == "threshold" else 0))


class HiddenLayer:
    def __init__(self, n_in, n_out, rng):
        self.weights = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        self.biases = np.zeros(n_out)

    def forward(self, input):
        self.last_input = input
        return input @ self.weights + self.biases

    def backprop(self, d_L_d_out, learn_rate):
        d_in = self.weights @ d_L_d_out
        self.weights -= learn_rate * np.outer(self.last_input, d_L_d_out)
        self.biases -= learn_rate * d_L_d_out
        return d_in


def cross_entropy_of_probs(out, label):
    return -np.log(out[label])


def cross_entropy_prime(out, label):
    gradient = np.zeros(len(out))
    gradient[label] = -1 / out[label]
    return gradient


@pytest.mark.parametrize("bug", [None, "threshold"])
def test_a_layer_written_for_its_networks_upstream_gradient_is_not_blamed(bug):
    rng = np.random.default_rng(0)
    layers = [HiddenLayer(6, 5, rng), ReluLayer(bug), SoftmaxLayer(5, 3, rng)]
    data = np.random.default_rng(1)
    X, y = data.standard_normal((8, 6)), data.integers(0, 3, 8)
    report = gk.diagnose(layers, (X, y), loss=(cross_entropy_of_probs, cross_entropy_prime), progress=False)
    assert not any(f.layer == "2:SoftmaxLayer" for f in report.errors), report
    if bug is None:
        assert report.ok, report
        assert any("right for the upstream gradient this network gives it" in n for n in report.notes), report.notes
    else:
        assert report.first_wrong_layer == "1:ReluLayer", report
