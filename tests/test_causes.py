"""Each named cause on a model that has the defect, and silence on correct models."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.checks.dynamics import LR_NOTE
from tests import models
from tests.independent import nets
from tests.models import clusters, data

CAUSES = {"doubled-softmax-derivative", "missing-batch-average", "sign-flipped", "scaled-gradient",
          "transposed-gradient", "zero-gradient"}


def causes(report):
    return [(f.code, f.layer) for f in report.findings if f.code in CAUSES]


@pytest.mark.parametrize(
    ("model", "hypothesis", "layer"),
    [
        (models.SoftmaxDerivativeAppliedTwice(), "elementwise", "3"),
        (models.SoftmaxDerivativeAppliedTwice((6, 8, 8, 8, 3), activation="relu"), "elementwise", "4"),
        (models.SoftmaxJacobianAppliedTwice(), "jacobian", "3"),
        (models.NoBiasSoftmaxJacobianAppliedTwice(), "jacobian", "3"),
        (models.SelfTrainingNet(doubled_softmax=True), "elementwise", "2"),
        (models.SoftmaxDerivativeAppliedTwice(dtype=np.float32), "elementwise", "3"),
    ],
)
def test_doubled_softmax_derivative_is_named_at_the_output_layer(model, hypothesis, layer):
    report = gk.diagnose(model, data())
    assert causes(report) == [("doubled-softmax-derivative", layer)]
    f = report.finding("doubled-softmax-derivative")
    assert f.evidence["hypothesis"] == hypothesis
    assert f.evidence[f"residual_{hypothesis}"] < 1e-6
    assert f.evidence["residual_correct"] > 1e-2


class CS231nDoubled(models.CS231nNet):
    """Scores (not probabilities) from loss(X); the elementwise doubled delta inside loss(X, y)."""

    def loss(self, X, y=None):
        out = super().loss(X, y)
        if y is None:
            return out
        loss, _ = out
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        h = np.maximum(X @ W1 + b1, 0)
        p = models.softmax(h @ W2 + b2)
        t = np.eye(p.shape[1])[y]
        d = (p - t) * p * (1 - p) / len(y)
        dh = (d @ W2.T) * (h > 0)
        return loss, {"W2": h.T @ d + self.reg * W2, "b2": d.sum(0), "W1": X.T @ dh + self.reg * W1, "b1": dh.sum(0)}


def test_doubled_softmax_with_scores_and_l2():
    report = gk.diagnose(CS231nDoubled(), data())
    assert causes(report) == [("doubled-softmax-derivative", "2")]


def test_independently_written_doubled_softmax_is_named():
    X, y = data(B=20, D=8, K=4)
    assert causes(gk.diagnose(nets.MLPA_DoubledSoftmax(), (X, y))) == [("doubled-softmax-derivative", "3")]
    assert causes(gk.diagnose(nets.SelfTrainingC_DoubledSoftmax(8, 10, 4), (X, y))) == [
        ("doubled-softmax-derivative", "2")
    ]
    assert causes(gk.diagnose(nets.MLPA_SummedNotAveraged(), (X, y))) == [("missing-batch-average", "3")]


@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_missing_batch_average_is_named_with_the_factor(reg):
    report = gk.diagnose(models.GradientSummedNotAveraged(reg=reg), data(B=16))
    assert causes(report) == [("missing-batch-average", "3")]
    f = report.finding("missing-batch-average")
    assert f.evidence["factor"] == pytest.approx(16, rel=1e-4)
    assert f.evidence["batch_size"] == 16
    assert "scaled-gradient" not in report.codes()


def test_batch_of_one_cannot_show_a_missing_average():
    report = gk.diagnose(models.GradientSummedNotAveraged(), data(B=1))
    assert report.ok


def test_summed_loss_is_a_warning_not_an_error():
    report = gk.diagnose(models.SummedLoss(), data(B=16))
    assert report.ok
    f = report.finding("summed-loss")
    assert f is not None and f.severity == "warning"
    assert f.evidence["batch_size"] == 16


def test_sign_flip_scale_transpose_zero():
    assert causes(gk.diagnose(models.GradientSignFlippedInOutputLayer(), data())) == [("sign-flipped", "3")]
    scaled = gk.diagnose(models.GradientDoubledInLayer2(), data())
    assert causes(scaled) == [("scaled-gradient", "2")]
    assert scaled.finding("scaled-gradient").evidence["factor"] == pytest.approx(2.0, rel=1e-6)
    assert causes(gk.diagnose(models.WeightGradientTransposedInLayer2(), data())) == [("transposed-gradient", "2")]
    assert causes(gk.diagnose(models.BiasGradientNeverComputed(), data())) == [("zero-gradient", "3")]


def test_a_wrong_hidden_activation_derivative_gets_no_invented_cause():
    report = gk.diagnose(models.ActivationDerivativeMissingInLayer2(), data())
    assert causes(report) == []
    assert [f.layer for f in report.findings if f.code == "gradient-mismatch"] == ["2"]


@pytest.mark.parametrize(
    "model",
    [
        models.MLP(activation="tanh"),
        models.MLP(activation="sigmoid"),
        models.MLP(activation="relu"),
        models.MLP(dtype=np.float32),
        models.MLP(reg=0.01),
        models.MLP((6, 16, 16, 16, 3), activation="relu"),
        models.CS231nNet(),
        models.SelfTrainingNet(),
    ],
)
def test_correct_networks_at_a_healthy_lr_raise_no_error(model):
    report = gk.diagnose(model, clusters(B=48, D=6, K=3), lr=0.1)
    assert report.ok, report
    assert not {"exploding-learning-rate", "label-collapse"} & set(report.codes())
    assert LR_NOTE not in report.notes


def test_lr_checks_are_skipped_without_lr_and_a_note_says_so_once():
    report = gk.diagnose(models.MLP(), data())
    assert report.codes() == [] and report.findings == ()
    assert report.notes.count(LR_NOTE) == 1 and "lr=" in LR_NOTE
    assert str(report).count("exploding-learning-rate and label-collapse were not run") == 1
    assert "lr-checks-skipped" not in gk.codes  # retired as a code; still accepted by skip=, and silences the note
    assert LR_NOTE not in gk.diagnose(models.MLP(), data(), skip="lr-checks-skipped").notes


def test_exploding_learning_rate_names_a_stable_lr():
    X, y = data(B=32)
    report = gk.diagnose(models.MLP(), (X, y), lr=50.0)
    f = report.finding("exploding-learning-rate")
    assert f is not None and f.layer is None
    e = f.evidence
    assert e["loss_end"] > e["loss_start"] > e["loss_end_small_lr"]
    assert 0 < e["suggested_lr"] < e["stable_limit"] < 50.0
    # the suggestion is honest: at the suggested lr the same replay lowers the loss
    assert gk.diagnose(models.MLP(), (X, y), lr=e["suggested_lr"]).finding("exploding-learning-rate") is None


@pytest.fixture(scope="module")
def digits():
    from gradcheck_kit.io import load_digits

    X, y = load_digits()
    return X.astype(float), y


def trained(net, X, y, lr):
    with np.errstate(over="ignore"):
        for i in range(len(X)):
            net.train(X[i : i + 1], y[i : i + 1], lr)
    return net


def test_label_collapse_on_the_question_network_and_not_when_fixed(digits):
    from examples.softmax_question import QuestionNet

    X, y = digits
    net = trained(QuestionNet(), X[:600], y[:600], 1.0)
    report = gk.diagnose(net, (X[600:664], y[600:664]), lr=1.0)
    f = report.finding("label-collapse")
    assert f is not None
    assert f.evidence["median_share_last_label"] >= 0.8
    assert f.evidence["median_class_prior"] < 0.2
    assert "step is too large" in f.message and "unnormalised inputs" in f.message
    assert "doubled softmax derivative" in f.message
    assert ("doubled-softmax-derivative", "2") in causes(report)
    good = trained(QuestionNet(fixed=True), X[:600] / 16, y[:600], 0.1)
    calm = gk.diagnose(good, (X[600:664] / 16, y[600:664]), lr=0.1)
    assert calm.ok, calm


def test_label_collapse_is_not_claimed_for_a_class_imbalanced_batch(digits):
    from examples.softmax_question import QuestionNet

    X, y = digits
    good = trained(QuestionNet(fixed=True), X[:600] / 16, y[:600], 0.1)
    mostly_zeros = np.concatenate([np.flatnonzero(y == 0)[:40], np.flatnonzero(y == 1)[:8]])
    report = gk.diagnose(good, (X[mostly_zeros] / 16, y[mostly_zeros]), lr=0.1)
    assert report.finding("label-collapse") is None


class ReLUDead(models.MLP):
    def __init__(self):
        super().__init__((6, 16, 3), activation="relu")
        self.params["b1"][:12] = -100.0

    def _forward(self, X):
        acts, zs = super()._forward(X)
        self.hidden = acts[1]
        return acts, zs


class SigmoidSaturated(models.MLP):
    def __init__(self):
        super().__init__((6, 16, 3), activation="sigmoid")
        self.params["W1"] *= 60

    def _forward(self, X):
        acts, zs = super()._forward(X)
        self.hidden = acts[1]
        return acts, zs


def test_dead_and_saturated_units_and_inputs_and_initial_loss():
    X, y = clusters(B=32)
    dead = gk.diagnose(ReLUDead(), (X, y))
    assert dead.finding("dead-units").evidence["dead"] >= 12
    sat = gk.diagnose(SigmoidSaturated(), (X, y))
    assert sat.finding("saturated-units").evidence["saturated_share"] >= 0.5
    raw = gk.diagnose(models.MLP(), (np.abs(X) * 40, y))
    assert raw.finding("unnormalized-input") is not None
    big = models.MLP()
    big.params["W3"] *= 200
    assert gk.diagnose(big, (X, y)).finding("initial-loss-off") is not None
    healthy = gk.diagnose(models.MLP(), (X, y))
    assert not {"dead-units", "saturated-units", "unnormalized-input", "initial-loss-off"} & set(healthy.codes())


def test_integer_inputs_are_unnormalised_pixels_but_not_one_index_per_example():
    from gradcheck_kit.checks.evidence import input_scale

    assert input_scale(np.full((4, 784), 200, dtype=np.uint8)).unnormalised  # raw 0-255 pixels
    assert input_scale(np.arange(40.0).reshape(40, 1)).unnormalised  # a real-valued feature on a scale of tens
    assert not input_scale(np.arange(40).reshape(40, 1)).unnormalised  # token indices


class SelfTrainingWithWeightDecay(models.SelfTrainingNet):
    """Correct per se: train() applies L2 weight decay 0.01·W; the model has no loss method."""

    def train(self, X, y, lr):
        W1, W2 = self.W1.copy(), self.W2.copy()
        super().train(X, y, lr)
        self.W1 -= lr * 0.01 * W1
        self.W2 -= lr * 0.01 * W2


def test_weight_decay_in_a_lossless_trainer_is_a_warning_not_a_mismatch():
    report = gk.diagnose(SelfTrainingWithWeightDecay(), data())
    assert report.ok, report
    f = report.finding("weight-decay-mismatch")
    assert f.severity == "warning" and f.evidence["coefficient"] == pytest.approx(0.01, rel=1e-4)
    assert "gradient-mismatch" not in report.codes()


def test_forgotten_regularisation_gradient_is_named():
    report = gk.diagnose(models.RegularisationGradientForgotten(reg=0.05), data())
    f = report.finding("weight-decay-mismatch")
    assert f is not None and f.severity == "error"
    assert f.evidence["coefficient"] == pytest.approx(-0.05, rel=1e-4)
    assert "so the loss includes an L2 weight-decay term that the gradient does not" in f.message


class ZeroBiasNeverUpdated:
    """Self-training net whose output bias starts at 0 and is never updated: a uniform shift of it is
    invisible through the softmax, so discovery must not use a ±constant probe."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.W1, self.b1 = rng.normal(size=(6, 8)) / 3, np.zeros(8)
        self.W2, self.b2 = rng.normal(size=(8, 3)) / 3, np.zeros(3)

    def forward(self, X):
        self.h = np.tanh(X @ self.W1 + self.b1)
        return models.softmax(self.h @ self.W2 + self.b2)

    def train(self, X, y, lr):
        p = self.forward(X)
        d = (p - np.eye(3)[y]) / len(X)
        dh = (d @ self.W2.T) * (1 - self.h**2)
        self.W2 -= lr * self.h.T @ d
        self.W1 -= lr * X.T @ dh
        self.b1 -= lr * dh.sum(0)  # b2 forgotten


def test_output_bias_that_is_never_updated_is_found():
    report = gk.diagnose(ZeroBiasNeverUpdated(), data())
    assert ("zero-gradient", "2") in causes(report)


class DeepSigmoidCS231n(models.CS231nNet):
    """A correct deep sigmoid net in its slow early phase: its argmax flips with tiny steps, unconfidently."""

    def __init__(self, seed=56):
        rng = np.random.default_rng(seed)
        self.params = {}
        for i, (m, n) in enumerate([(6, 10), (10, 10), (10, 3)], start=1):
            self.params[f"W{i}"] = rng.standard_normal((m, n)) / np.sqrt(m)
            self.params[f"b{i}"] = rng.standard_normal(n) * 0.01

    def loss(self, X, y=None):
        P = self.params
        sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
        h1 = sig(X @ P["W1"] + P["b1"])
        h2 = sig(h1 @ P["W2"] + P["b2"])
        s = h2 @ P["W3"] + P["b3"]
        if y is None:
            return s
        p = models.softmax(s)
        B = len(X)
        d3 = (p - np.eye(3)[y]) / B
        d2 = d3 @ P["W3"].T * h2 * (1 - h2)
        d1 = d2 @ P["W2"].T * h1 * (1 - h1)
        grads = {"W3": h2.T @ d3, "b3": d3.sum(0), "W2": h1.T @ d2, "b2": d2.sum(0), "W1": X.T @ d1, "b1": d1.sum(0)}
        return float(-np.mean(np.log(p[np.arange(B), y]))), grads


@pytest.mark.parametrize("seed", range(8))
def test_no_label_collapse_for_an_undecided_network_in_its_early_phase(seed):
    report = gk.diagnose(DeepSigmoidCS231n(seed=50 + seed), clusters(B=8, seed=seed), lr=0.05)
    assert report.ok, report


def test_exploding_learning_rate_seen_even_when_the_loss_later_saturates():
    X, y = clusters(B=16, spread=0.1)
    report = gk.diagnose(models.MLP((6, 8, 3)), (X * 3, y), lr=100.0)
    assert report.finding("exploding-learning-rate") is not None
