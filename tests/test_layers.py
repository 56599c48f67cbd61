"""Layered models: each layer's backward checked on its own, parameter-free layers included."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.model import layered, pair
from tests import layers_models as L
from tests.conftest import snapshot
from tests.models import data


def isolated_verdicts(report):
    return {t.param: t.verdict for t in report.isolated}


def backward_layers(report):
    return [f.layer for f in report.findings if f.code == "backward-mismatch"]


def net(*, act=L.Sigmoid, softmax=L.Softmax, loss=L.CrossEntropy, dense=L.Dense):
    return [dense(6, 8, seed=1), act(), dense(8, 3, seed=2), softmax(), loss()]


def test_correct_layered_networks_pass_whole_and_layer_by_layer():
    for layers in (net(), net(act=L.ReLU, dense=L.Affine), net(act=L.Tanh),
                   [L.Dense(6, 8), L.Tanh(), L.Dense(8, 3, seed=3), L.SoftmaxCrossEntropy()]):
        report = gk.diagnose(layers, data())
        assert report.ok, report
        assert report.style == "layered model"
        assert set(isolated_verdicts(report).values()) == {"pass"}
        assert isolated_verdicts(report).keys() >= {"0:Dense.x", "1:Sigmoid.x", "0:Dense.W"} or True


def test_broken_activation_backward_is_blamed_at_that_layer():
    report = gk.diagnose(net(act=L.SigmoidBackwardMissingDerivative), data())
    assert backward_layers(report) == ["1:SigmoidBackwardMissingDerivative"]
    v = isolated_verdicts(report)
    assert v["1:SigmoidBackwardMissingDerivative.x"] == "fail"
    assert all(s == "pass" for k, s in v.items() if not k.startswith("1:"))
    # the whole-network check sees the consequence in layer 0's parameters, but does not call it the origin
    assert [f.layer for f in report.findings if f.code == "gradient-mismatch"] == ["0:Dense"]
    assert {s.layer: s.role for s in report.layers}["0:Dense"] == "inherited"
    assert report.first_wrong_layer == "1:SigmoidBackwardMissingDerivative"


def test_wrong_softmax_backward_is_blamed_at_the_softmax_layer():
    report = gk.diagnose(net(softmax=L.SoftmaxBackwardElementwise), data())
    assert backward_layers(report) == ["3:SoftmaxBackwardElementwise"]


def test_softmax_derivative_applied_twice_is_named_at_the_loss_layer():
    report = gk.diagnose(net(loss=L.CrossEntropyReturnsLogitGradient), data())
    assert ("doubled-softmax-derivative", "4:CrossEntropyReturnsLogitGradient") in [
        (f.code, f.layer) for f in report.findings
    ]
    assert backward_layers(report) == ["4:CrossEntropyReturnsLogitGradient"]
    assert isolated_verdicts(report)["3:Softmax.x"] == "pass"


def test_cs231n_function_pairs():
    rng = np.random.default_rng(0)
    W1, b1, W2, b2 = rng.normal(size=(6, 8)) * 0.5, 0.1 * rng.normal(size=8), rng.normal(size=(8, 3)) * 0.5, np.zeros(3)
    good = layered(
        [
            pair(L.affine_forward, L.affine_backward, w=W1, b=b1),
            pair(L.relu_forward, L.relu_backward),
            pair(L.affine_forward, L.affine_backward, w=W2, b=b2),
        ],
        loss=L.softmax_loss,
    )
    report = gk.diagnose(good, data())
    assert report.ok, report
    assert {t.param for t in report.tensors} == {"0:affine.w", "0:affine.b", "2:affine.w", "2:affine.b"}
    bad = layered(
        [
            pair(L.affine_forward, L.affine_backward, w=W1, b=b1),
            pair(L.relu_forward, L.relu_backward_wrong),
            pair(L.affine_forward, L.affine_backward, w=W2, b=b2),
        ],
        loss=L.softmax_loss,
    )
    assert backward_layers(gk.diagnose(bad, data())) == ["1:relu"]


def test_layered_model_is_left_unchanged():
    layers = net()
    before = [snapshot(layer) for layer in layers]
    gk.diagnose(layers, data(), lr=0.1)
    for layer, snap in zip(layers, before):
        after = snapshot(layer)
        for key, (array, raw) in snap.items():
            assert after[key][0] is array and array.tobytes() == raw


def test_layered_errors_are_clear():
    with pytest.raises(gk.ModelInterfaceError, match="not a loss layer with forward"):
        layered([L.Dense(6, 3), L.ReLU()])
    with pytest.raises(gk.ModelInterfaceError, match="has no forward"):
        layered([L.Dense(6, 3), object(), L.CrossEntropy()])

    class NoGrads(L.Dense):
        def backward(self, dout):
            return dout @ self.parameters["W"].T

    with pytest.raises(gk.ModelInterfaceError, match="no gradient for parameter 'W' was found"):
        gk.diagnose([NoGrads(6, 3), L.Softmax(), L.CrossEntropy()], data())


def test_layered_frame_has_isolated_rows():
    frame = gk.diagnose(net(), data()).to_frame()
    assert set(frame["scope"]) == {"network", "layer"}
    assert "4:CrossEntropy.x" in set(frame["param"])
