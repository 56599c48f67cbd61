"""diagnose() on correct networks (no errors) and on seeded defects (blamed on the right layer)."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from tests import models
from tests.models import data


def error_layers(report, code="gradient-mismatch"):
    return [f.layer for f in report.findings if f.code == code]


def verdicts(report):
    return {t.param: t.verdict for t in report.tensors}


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("sizes", [(6, 3), (6, 8, 3), (6, 8, 8, 3), (6, 9, 7, 5, 3)])
def test_correct_mlp_has_no_error(activation, sizes):
    report = gk.diagnose(models.MLP(sizes, activation=activation), data())
    assert report.ok, report
    assert report.errors == ()
    assert set(verdicts(report).values()) <= {"pass"}, verdicts(report)
    assert len(report.tensors) == 2 * (len(sizes) - 1)


def test_float32_model_is_checked_in_float64_without_false_alarm():
    model = models.MLP((6, 8, 8, 3), dtype=np.float32)
    report = gk.diagnose(model, data())
    assert report.ok, report
    assert {t.dtype for t in report.tensors} == {"float32"}
    assert {t.working_dtype for t in report.tensors} == {"float64"}


def test_l2_regularised_model_passes_and_forgotten_reg_gradient_fails():
    assert gk.diagnose(models.MLP(reg=0.01), data()).ok
    report = gk.diagnose(models.RegularisationGradientForgotten(reg=0.01), data())
    assert not report.ok
    # every weight matrix misses reg * W, biases are fine
    v = verdicts(report)
    assert {p for p, s in v.items() if s == "fail"} == {"W1", "W2", "W3"}
    assert error_layers(report) == ["3"]


def test_sign_flip_in_output_layer_blames_output_only():
    report = gk.diagnose(models.GradientSignFlippedInOutputLayer(), data())
    assert error_layers(report) == ["3"]
    v = verdicts(report)
    assert v["W3"] == "fail"
    assert all(s == "pass" for p, s in v.items() if p != "W3")
    mismatch = report.finding("gradient-mismatch")
    assert mismatch.evidence["param"] == "W3"
    assert mismatch.evidence["norm_ratio"] == pytest.approx(1.0, rel=1e-3)
    assert mismatch.evidence["cosine"] == pytest.approx(-1.0, rel=1e-3)


def test_missing_activation_derivative_blames_that_layer_not_the_output():
    report = gk.diagnose(models.ActivationDerivativeMissingInLayer2(), data())
    assert error_layers(report) == ["2"]
    assert report.first_wrong_layer == "2"
    v = verdicts(report)
    assert v["W3"] == v["b3"] == "pass"
    roles = {s.layer: s.role for s in report.layers}
    assert roles == {"3": "passing", "2": "origin", "1": "inherited"}


def test_transposed_square_weight_gradient_blames_layer_2_only():
    report = gk.diagnose(models.WeightGradientTransposedInLayer2(), data())
    assert error_layers(report) == ["2"]
    v = verdicts(report)
    assert v["W2"] == "fail"
    assert all(s == "pass" for p, s in v.items() if p != "W2")


def test_two_independent_errors_give_two_findings():
    class TwoErrors(models.MLP):
        def weight_gradient(self, i, a_prev, delta):
            g = super().weight_gradient(i, a_prev, delta)
            return -g if i in (1, 3) else g

    report = gk.diagnose(TwoErrors(), data())
    assert error_layers(report) == ["3", "1"]
    assert [f.evidence["first_wrong"] for f in report.findings if f.code == "gradient-mismatch"] == [True, False]
    assert [f.layer for f in report.findings if f.code == "sign-flipped"] == ["3", "1"]


def test_cs231n_style_with_l2():
    report = gk.diagnose(models.CS231nNet(), data(D=6, K=3))
    assert report.ok, report
    assert report.style.startswith("CS231n")
    bad = gk.diagnose(models.CS231nNet(forget_reg_in_W1=True), data(D=6, K=3))
    assert error_layers(bad) == ["1"]
    assert verdicts(bad)["W1"] == "fail" and verdicts(bad)["W2"] == "pass"


def test_self_training_object_without_loss():
    report = gk.diagnose(models.SelfTrainingNet(), data())
    assert report.ok, report
    assert report.style == "self-training object"
    assert any("mean cross-entropy" in n for n in report.notes)
    assert "W1, b1, W2, b2" in report.notes[0]
    bad = gk.diagnose(models.SelfTrainingNet(doubled_softmax=True), data())
    assert error_layers(bad) == ["2"]


def test_wrapped_functions():
    model = models.MLP((6, 8, 3))

    def loss(params, X, y):
        model.params = params
        return model.loss(X, y)

    def grads(params, X, y):
        model.params = params
        return model.backward(X, y)

    params = {k: v.copy() for k, v in model.params.items()}
    report = gk.diagnose(gk.wrap(params=params, loss=loss, grads=grads), data())
    assert report.ok
    assert report.style == "functions (wrap)"


def test_exhaustive_checks_every_entry():
    model = models.MLP((6, 8, 3))
    report = gk.diagnose(model, data(), exhaustive=True)
    assert [t.checked for t in report.tensors] == [t.size for t in report.tensors]
    assert report.ok


def test_default_run_is_bounded_on_a_real_sized_layer():
    model = models.MLP((64, 256, 256, 256, 10), seed=3)
    X = np.random.default_rng(0).normal(size=(128, 64))
    y = np.arange(128) % 10
    report = gk.diagnose(model, (X, y))
    assert report.ok
    # sampled, not exhaustive: 12 entries + 2 directions per tensor, 2 evaluations each (+ refinements)
    assert report.calls["loss"] <= 8 * (12 + 2) * 4 + 1
    assert all(t.checked <= 12 for t in report.tensors)


def test_relu_kinks_are_inconclusive_not_failures():
    # A ReLU net whose pre-activations sit exactly at 0 for some examples: perturbing the bias crosses the kink.
    model = models.MLP((4, 5, 3), activation="relu")
    X, y = data(B=8, D=4)
    model.params["b1"][:] = -(X[0] @ model.params["W1"])  # example 0 sits on every unit's kink
    report = gk.diagnose(model, (X, y), exhaustive=True)
    assert report.ok, report
    b1 = next(t for t in report.tensors if t.param == "b1")
    assert b1.inconclusive > 0
    assert any("non-differentiable" in e.judgement.reason for e in b1.entries)


def test_sparse_error_is_localised_by_bisection():
    class OneEntryWrong(models.MLP):
        def backward(self, X, y):
            g = super().backward(X, y)
            g["W1"][37 // 16, 37 % 16] += 0.05
            return g

    model = OneEntryWrong((6, 16, 3))
    report = gk.diagnose(model, data(), max_entries=3, probes=2)
    w1 = next(t for t in report.tensors if t.param == "W1")
    assert w1.verdict == "fail"
    assert w1.worst.index == (2, 5)
    assert w1.localised


def test_parallel_exhaustive_check_is_identical_to_serial():
    model = models.SoftmaxDerivativeAppliedTwice((6, 16, 8, 3))
    serial = gk.diagnose(model, data(), exhaustive=True).to_dict()
    parallel = gk.diagnose(model, data(), exhaustive=True, n_jobs=2).to_dict()
    assert parallel["params"] == serial["params"]
    assert parallel["findings"] == serial["findings"]
    assert parallel["settings"]["n_jobs"] == 2


def test_blas_threads_can_be_pinned():
    from gradcheck_kit.numeric.blas import blas_threads, pin_blas_threads

    before = blas_threads()
    if before is None:
        pytest.skip("no known BLAS library loaded")
    try:
        assert pin_blas_threads(1) and blas_threads() == 1
    finally:
        pin_blas_threads(before)
