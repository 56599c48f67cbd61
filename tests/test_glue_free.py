"""The little the kit lets users say when their code leaves it unsaid (issue 11, items 2–5): layer
function pairs with constant arguments and names, which tensors form a layer, the loss a model has no
code for — and causes named the same whether or not ``predict=`` is given."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.model import layered
from tests import models
from tests.idioms import cnn_layers as cl
from tests.idioms import online_sgd


# -- gk.pair: constants and names ---------------------------------------------------------------------
def conv_net(pool_backward=cl.max_pool_backward_naive):
    rng = np.random.default_rng(0)
    return layered([
        gk.pair(cl.conv_forward_naive, cl.conv_backward_naive, w=0.3 * rng.standard_normal((2, 1, 3, 3)),
                b=np.zeros(2), conv_param={"stride": 1, "pad": 1}, name="conv"),
        gk.pair(cl.relu_forward, cl.relu_backward, name="relu"),
        gk.pair(cl.max_pool_forward_naive, pool_backward, pool_param={"pool_height": 2, "pool_width": 2, "stride": 2},
                name="pool"),
        gk.pair(cl.affine_forward, cl.affine_backward, w=0.3 * rng.standard_normal((2 * 4 * 4, 4)), b=np.zeros(4),
                name="fc"),
    ], loss=cl.softmax_loss)


def test_pair_takes_constant_arguments_and_a_name():
    report = gk.diagnose(conv_net(), cl.make_data(num_images=4), progress=False)
    assert report.ok, report
    assert {t.param for t in report.tensors} == {"0:conv.w", "0:conv.b", "3:fc.w", "3:fc.b"}
    assert not any("lambda" in s.layer for s in report.layers)


def test_max_pool_giving_every_tied_maximum_the_gradient_is_blamed_on_the_pool():
    """Blank regions of digit images tie; the kinks they make are inconclusive, the ties are not."""
    report = gk.diagnose(conv_net(cl.max_pool_backward_all_ties), cl.make_data(num_images=4), progress=False)
    assert not report.ok
    assert report.first_wrong_layer == "2:pool", report
    assert {f.layer for f in report.errors if f.code == "backward-mismatch"} == {"2:pool"}, report
    ties = next(f for f in report.errors if f.code == "max-pool-ties")
    assert ties.layer == "2:pool" and ties.evidence["handed_out"] > ties.evidence["outputs"], ties


def test_correct_max_pool_over_ties_is_no_false_alarm():
    for seed in range(5):
        report = gk.diagnose(conv_net(), cl.make_data(num_images=4), seed=seed, progress=False)
        assert report.ok, report
        assert "max-pool-ties" not in {f.code for f in report.findings}


def test_pair_rejects_integer_parameters_with_a_clear_error():
    with pytest.raises(gk.ModelInterfaceError, match="parameter 'w' has dtype int64"):
        gk.pair(cl.affine_forward, cl.affine_backward, w=np.ones((2, 2), dtype=np.int64))


# -- wrap(layers=...): which tensors form a layer -------------------------------------------------------
def rnn_functions(bug=None):
    """A vanilla RNN over a short sequence, loss summed over time steps (functions of a params dict)."""

    def forward(params, X):
        h = np.zeros(params["Whh"].shape[0])
        hs, outs = [h], []
        for x in X:
            h = np.tanh(params["Wxh"] @ x + params["Whh"] @ h + params["bh"])
            hs.append(h)
            outs.append(params["Why"] @ h + params["by"])
        return np.array(outs), hs

    def loss(params, X, y):
        scores, _ = forward(params, X)
        return float(np.sum((scores - y) ** 2) / 2)

    def grads(params, X, y):
        scores, hs = forward(params, X)
        g = {k: np.zeros_like(v) for k, v in params.items()}
        dh_next = np.zeros_like(hs[0])
        for t in reversed(range(len(X))):
            dy = scores[t] - y[t]
            g["Why"] += np.outer(dy, hs[t + 1])
            g["by"] += dy
            dh = params["Why"].T @ dy + dh_next
            draw = dh * (1 - hs[t + 1] ** 2) if bug != "tanh_prime_missing" else dh
            g["Wxh"] += np.outer(draw, X[t])
            g["Whh"] += np.outer(draw, hs[t])
            g["bh"] += draw
            dh_next = params["Whh"].T @ draw
        return g

    return forward, loss, grads


def rnn_model(bug=None, layers=None):
    rng = np.random.default_rng(3)
    params = {"Wxh": 0.5 * rng.standard_normal((4, 3)), "Whh": 0.5 * rng.standard_normal((4, 4)), "bh": np.zeros(4),
              "Why": 0.5 * rng.standard_normal((2, 4)), "by": np.zeros(2)}
    _, loss, grads = rnn_functions(bug)
    return gk.wrap(params, loss=loss, grads=grads, name="rnn", layers=layers)


@pytest.fixture
def sequence():
    rng = np.random.default_rng(4)
    return rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


def test_recurrent_names_are_grouped_into_layers_by_default(sequence):
    report = gk.diagnose(rnn_model(), sequence, progress=False)
    assert report.ok, report
    assert [s.layer for s in report.layers] != [t.param for t in report.tensors]  # not one layer per tensor


def test_layers_mapping_names_the_layer_the_error_enters(sequence):
    layers = {"recurrent": ["Wxh", "Whh", "bh"], "readout": ["Why", "by"]}
    report = gk.diagnose(rnn_model("tanh_prime_missing", layers), sequence, progress=False)
    assert not report.ok
    assert report.first_wrong_layer == "recurrent", report
    assert {s.layer for s in report.layers} == {"recurrent", "readout"}


def test_layers_mapping_must_cover_every_parameter():
    with pytest.raises(gk.ModelInterfaceError, match=r"leaves out \['by'\]"):
        rnn_model(layers={"recurrent": ["Wxh", "Whh", "bh"], "readout": ["Why"]})


# -- a cause found without predict= is found with it -----------------------------------------------------
@pytest.mark.parametrize("cls", [models.SoftmaxDerivativeAppliedTwice, models.GradientSummedNotAveraged,
                                 models.GradientSignFlippedInOutputLayer])
def test_predict_never_hides_a_cause(cls):
    batch = models.data()
    reports = [gk.diagnose(models.as_functions(cls(sizes=(6, 8, 3)), predict=p), batch, progress=False)
               for p in (False, True)]
    codes = [{f.code for f in r.errors} for r in reports]
    assert codes[0] <= codes[1], codes
    assert codes[1] - {"gradient-mismatch"}, codes  # with predictions to read, a named cause


# -- no loss method: the loss identified from the gradient, never guessed into a false alarm ------------
def test_loss_identified_from_the_gradient_is_said():
    report = gk.diagnose(online_sgd.ColumnNet(3, 4, 2, 0.3), online_sgd.make_data(), progress=False)
    assert report.ok, report
    note = next(n for n in report.notes if n.startswith("no loss method"))
    assert "half squared error" in note and "identified from the model's gradient" in note, note


def test_unidentifiable_loss_of_a_regression_asks_for_loss():
    class Distorted(online_sgd.ColumnNet):
        def train(self, inputs_list, targets_list):  # a step that is no standard loss's gradient
            before = self.wih.copy(), self.who.copy()
            super().train(inputs_list, targets_list)
            for w, b in zip((self.wih, self.who), before, strict=True):
                w += 0.7 * (w - b) * np.sign(w)

    with pytest.raises(gk.ModelInterfaceError, match="name it with loss="):
        gk.diagnose(Distorted(3, 4, 2, 0.3), online_sgd.make_data(), progress=False)


def test_named_per_example_loss_takes_its_reduction_from_the_gradient():
    report = gk.diagnose(online_sgd.ColumnNet(3, 4, 2, 0.3), online_sgd.make_data(), loss="quadratic",
                         progress=False)
    assert report.ok, report
    assert any("summed over the examples" in n for n in report.notes), report.notes


# -- no loss and no standard loss agrees: cross-entropy only for softmax outputs, else ask ----------------------
class WeightedSquaredError:
    """Sigmoid outputs, one-hot targets, trained on a class-weighted squared error (no loss method)."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.W1, self.b1 = rng.standard_normal((4, 6)) * 0.5, np.zeros(6)
        self.W2, self.b2 = rng.standard_normal((6, 3)) * 0.5, np.zeros(3)
        self.weights = np.array([1.0, 2.0, 3.0])

    def forward(self, X):
        self.h = 1 / (1 + np.exp(-(X @ self.W1 + self.b1)))
        self.o = 1 / (1 + np.exp(-(self.h @ self.W2 + self.b2)))
        return self.o

    def train(self, X, y, lr):
        o = self.forward(X)
        d2 = self.weights * (o - y) / len(X) * o * (1 - o)
        d1 = d2 @ self.W2.T * self.h * (1 - self.h)
        self.W2 -= lr * self.h.T @ d2
        self.b2 -= lr * d2.sum(axis=0)
        self.W1 -= lr * X.T @ d1
        self.b1 -= lr * d1.sum(axis=0)


def test_a_loss_no_standard_loss_explains_asks_for_loss_instead_of_guessing():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((16, 4)), np.eye(3)[rng.integers(0, 3, 16)]
    with pytest.raises(gk.ModelInterfaceError, match="name it with loss="):
        gk.diagnose(WeightedSquaredError(), (X, Y), progress=False)


def test_half_mean_squared_error_over_entries_is_identified():
    class HalfMean(WeightedSquaredError):
        def __init__(self):
            super().__init__()
            self.weights = np.ones(3) / 3  # ½·mean over every entry: (o − t) / (B·K)

    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((16, 4)), np.eye(3)[rng.integers(0, 3, 16)]
    report = gk.diagnose(HalfMean(), (X, Y), progress=False)
    assert report.ok, report
    assert any("half the mean squared error" in n for n in report.notes), report.notes


# -- optimizer state in the training step -------------------------------------------------------------------
class MomentumNet(WeightedSquaredError):
    """A correct softmax network whose train step uses momentum (v = μv + (1 − μ)g; W -= lr·v)."""

    def __init__(self, with_gradient=True):
        super().__init__()
        self.v = {k: np.zeros_like(getattr(self, k)) for k in ("W1", "b1", "W2", "b2")}
        if not with_gradient:
            self.gradients = None

    def forward(self, X):
        self.h = np.tanh(X @ self.W1 + self.b1)
        z = self.h @ self.W2 + self.b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss(self, X, y):
        return float(-np.mean(np.log(self.forward(X)[np.arange(len(y)), y])))

    def gradients(self, X, y):
        p = self.forward(X)
        d = p.copy()
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        dh = d @ self.W2.T * (1 - self.h**2)
        return {"W2": self.h.T @ d, "b2": d.sum(axis=0), "W1": X.T @ dh, "b1": dh.sum(axis=0)}

    def train(self, X, y, lr):
        grads = MomentumNet.gradients(self, X, y)
        for k, g in grads.items():
            self.v[k] = 0.9 * self.v[k] + 0.1 * g
            getattr(self, k)[...] -= lr * self.v[k]


def test_a_momentum_step_is_not_judged_as_plain_sgd():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    report = gk.diagnose(MomentumNet(), (X, y), lr=0.1, progress=False)
    assert report.ok, report
    assert any("keeps optimizer state" in n for n in report.notes), report.notes


def test_no_gradient_is_read_off_a_step_that_keeps_optimizer_state():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    with pytest.raises(gk.ModelInterfaceError, match=r"also updates v\.W1, .* optimizer state"):
        gk.diagnose(MomentumNet(with_gradient=False), (X, y), progress=False)


# -- a list of layers with a standard loss by name; functions that take their forward function -----------------
@pytest.mark.parametrize(("task", "loss"), [("tanh_mse", "mse"), ("tanh_mse", "quadratic"),
                                            ("softmax_cce", "cross_entropy"), ("sigmoid_bce", "bce")])
def test_layers_take_a_standard_loss_by_name(task, loss):
    from tests.idioms import layer_objects

    network, _, _ = layer_objects.build_network(task=task)
    report = gk.diagnose(network, layer_objects.make_data(task=task), loss=loss, progress=False)
    assert report.ok, report


def test_layers_with_a_named_loss_still_catch_a_bug():
    from tests.idioms import layer_objects

    network, _, _ = layer_objects.build_network(task="tanh_mse", bug="bias_sign_flip")
    report = gk.diagnose(network, layer_objects.make_data(task="tanh_mse"), loss="mse", progress=False)
    assert "sign-flipped" in {f.code for f in report.errors}, report


def forward_prop(data, one_hot_labels, params):
    """Course style: returns the hidden layer, the outputs and the cost."""
    h = 1 / (1 + np.exp(-(data @ params["W1"] + params["b1"])))
    z = h @ params["W2"] + params["b2"]
    out = np.exp(z - z.max(axis=1, keepdims=True))
    out /= out.sum(axis=1, keepdims=True)
    return h, out, -np.sum(one_hot_labels * np.log(out)) / len(data)


def backward_prop(data, one_hot_labels, params, forward_prop_func, bug=None):
    h, out, _ = forward_prop_func(data, one_hot_labels, params)
    d2 = (out - one_hot_labels) / len(data)
    d1 = d2 @ params["W2"].T * h * (1 - h)
    scale = len(data) if bug == "W2_not_averaged" else 1
    return {"W1": data.T @ d1, "b1": d1.sum(axis=0), "W2": scale * h.T @ d2, "b2": d2.sum(axis=0)}


@pytest.mark.parametrize("bug", [None, "W2_not_averaged"])
def test_functions_get_their_forward_function_and_a_tuple_loss_is_read(bug):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 5)), np.eye(3)[rng.integers(0, 3, 20)]
    params = {"W1": rng.standard_normal((5, 4)), "b1": np.zeros(4), "W2": rng.standard_normal((4, 3)),
              "b2": np.zeros(3)}
    model = gk.wrap(params, loss=forward_prop, grads=partial(backward_prop, bug=bug))
    report = gk.diagnose(model, (X, Y), progress=False)
    assert any("grads=backward_prop" in n for n in report.notes), report.notes
    if bug is None:
        assert report.ok, report
    else:
        assert report.first_wrong_layer == "2" and "missing-batch-average" in {f.code for f in report.errors}


def test_training_checks_run_on_a_single_sigmoid_output():
    class Binary:
        def __init__(self):
            self.W, self.b = np.random.default_rng(0).normal(size=(2, 1)), np.zeros(1)

        def forward(self, X):
            return 1 / (1 + np.exp(-(X @ self.W + self.b)))

        def train(self, X, y, lr):
            d = (self.forward(X) - y.reshape(-1, 1)) / len(X)  # binary cross-entropy
            self.W -= lr * X.T @ d
            self.b -= lr * d.sum(axis=0)

    X, y = np.random.default_rng(1).normal(size=(8, 2)), np.array([0, 1] * 4)
    for lr in (0.1, 50.0):
        report = gk.diagnose(Binary(), (X, y), lr=lr, progress=False)
        assert report.complete and not any("lr=" in note for note in report.notes), report


# -- dropout drawn from numpy's global generator, with no seed ------------------------------------------------
class DropoutNet:
    """CS231n style: params dict, loss(X, y=None) -> (loss, grads), inverted dropout from np.random."""

    def __init__(self, p=0.5, bug=None):
        rng = np.random.default_rng(0)
        self.params = {"W1": rng.standard_normal((5, 8)) * 0.5, "b1": np.zeros(8),
                       "W2": rng.standard_normal((8, 3)) * 0.5, "b2": np.zeros(3)}
        self.p, self.bug = p, bug

    def loss(self, X, y=None):
        P = self.params
        h = np.maximum(0, X @ P["W1"] + P["b1"])
        mask = (np.random.rand(*h.shape) < self.p) / self.p
        hd = h * mask
        scores = hd @ P["W2"] + P["b2"]
        if y is None:
            return scores
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        prob = e / e.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(prob[np.arange(len(y)), y]))
        d = prob.copy()
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        dhd = d @ P["W2"].T
        dh = (dhd if self.bug == "mask_not_applied" else dhd * mask) * (h > 0)
        return loss, {"W2": hd.T @ d, "b2": d.sum(axis=0), "W1": X.T @ dh, "b1": dh.sum(axis=0)}


@pytest.mark.parametrize("bug", [None, "mask_not_applied"])
def test_dropout_from_the_global_generator_is_checked_with_one_mask(bug):
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    np.random.seed(7)
    state = np.random.get_state()[1].copy()
    report = gk.diagnose(DropoutNet(bug=bug), (X, y), progress=False)
    assert np.array_equal(np.random.get_state()[1], state)  # the caller's generator is untouched
    assert "nondeterministic-forward" not in report.codes()
    assert any("global random generator" in n for n in report.notes), report.notes
    if bug is None:
        assert report.ok, report
    else:
        assert report.first_wrong_layer == "1", report


@pytest.mark.parametrize("bug", [None, "W2_not_averaged"])
def test_a_wrapped_forward_that_returns_its_cost_gives_the_loss(bug):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 5)), np.eye(3)[rng.integers(0, 3, 20)]
    params = {"W1": rng.standard_normal((5, 4)), "b1": np.zeros(4), "W2": rng.standard_normal((4, 3)),
              "b2": np.zeros(3)}
    model = gk.wrap(params, forward=forward_prop, backward=partial(backward_prop, bug=bug))
    report = gk.diagnose(model, (X, Y), progress=False)
    assert any("the cost forward(...) returns" in n for n in report.notes), report.notes
    assert report.ok is (bug is None), report


def test_weights_kept_as_python_floats_get_a_clear_error():
    class Scalars:
        def __init__(self):
            self.w1, self.w2, self.b1 = 0.5, -0.3, 0.0

        def feedforward(self, x):
            return 1 / (1 + np.exp(-(self.w1 * x[0] + self.w2 * x[1] + self.b1)))

        def train(self, data, all_y_trues, learn_rate=0.1):
            for x, y_true in zip(data, all_y_trues, strict=True):
                d = -2 * (y_true - self.feedforward(x))
                self.w1 -= learn_rate * d * x[0]

    X, y = np.random.default_rng(0).normal(size=(4, 2)), np.array([0.0, 1.0, 1.0, 0.0])
    with pytest.raises(gk.ModelInterfaceError, match=r"keeps its weights as Python floats \(w1, w2, b1\)"):
        gk.diagnose(Scalars(), (X, y), progress=False)
