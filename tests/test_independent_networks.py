"""Acceptance: networks written independently of this repository (tests/independent/nets.py, written
from a brief of the interface styles only, never against the kit's code)."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from tests.independent import nets


@pytest.fixture
def xy():
    rng = np.random.default_rng(7)
    return rng.normal(size=(20, 8)), rng.integers(0, 4, size=20)


def mismatch_layers(report):
    return [f.layer for f in report.findings if f.code == "gradient-mismatch"]


def failing(report):
    return {t.param for t in report.tensors if t.verdict == "fail"}


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("sizes", [(8, 4), (8, 16, 4), (8, 16, 16, 4)])
def test_correct_style_a(xy, activation, sizes):
    report = gk.diagnose(nets.MLPA(sizes=sizes, activation=activation), xy)
    assert report.ok, report
    assert not failing(report)


def test_correct_float32_style_a(xy):
    assert gk.diagnose(nets.MLPA(dtype=np.float32), xy).ok


@pytest.mark.parametrize(
    ("cls", "layer", "wrong"),
    [
        (nets.MLPA_SignFlippedOutputW, "3", {"W3"}),
        (nets.MLPA_MissingActivationDerivative, "2", {"W1", "b1", "W2", "b2"}),
        (nets.MLPA_TransposedW2, "2", {"W2"}),
    ],
)
def test_seeded_bugs_style_a(xy, cls, layer, wrong):
    report = gk.diagnose(cls(), xy)
    assert mismatch_layers(report) == [layer]
    assert failing(report) == wrong


def test_cs231n_style_b(xy):
    X, y = xy
    y3 = y % 3
    assert gk.diagnose(nets.TwoLayerNetB(8, 10, 3, reg=0.1), (X, y3)).ok
    report = gk.diagnose(nets.TwoLayerNetB_ForgotRegGradient(8, 10, 3, reg=0.1), (X, y3))
    assert mismatch_layers(report) == ["1"]
    assert failing(report) == {"W1"}


def test_self_training_style_c(xy):
    X, y = xy
    assert gk.diagnose(nets.SelfTrainingC(8, 10, 4), xy).ok
    report = gk.diagnose(nets.SelfTrainingC_DoubledSoftmax(8, 10, 4), xy)
    assert mismatch_layers(report) == ["2"]


def test_functions_style_d(xy):
    params = nets.init_params((8, 12, 4), seed=0)
    model = gk.wrap(params=params, loss=nets.loss_fn, grads=nets.grads_fn, predict=nets.predict_fn)
    report = gk.diagnose(model, xy)
    assert report.ok, report
