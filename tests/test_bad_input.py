"""Bad input gets the kit's own exception (a ValueError subclass) saying what was found and expected."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from tests import models
from tests.models import data


@pytest.fixture
def model():
    return models.MLP()


@pytest.mark.parametrize(
    ("batch", "pattern"),
    [
        ((np.zeros((0, 6)), np.zeros(0, dtype=int)), r"X is empty"),
        ((np.ones((4, 6)), np.zeros(5, dtype=int)), r"X has 4 examples but y has 5"),
        ((np.full((4, 6), np.nan), np.zeros(4, dtype=int)), r"X has 24 non-finite value"),
        ((np.ones((4, 6)), np.array([0, 1, 2, 3])), r"labels y range over 0\.\.3; expected class indices 0\.\.2"),
        ((np.ones((4, 6)), np.array([0, -1, 2, 1])), r"range over -1\.\.2"),
        ((np.ones((4, 6)), np.array([0.5, 1.0, 2.0, 1.0])), r"labels y are float64 .*expected integer class indices"),
        ((np.ones((4, 6)), np.array([0.0, 1.0, 2.0, 1.0])), r"use y\.astype\(int\)"),
        ((np.ones((4, 6)), np.zeros((4, 5))), r"targets y have shape \(4, 5\); expected \(4, 3\)"),
        ((np.array(["a"] * 4), np.zeros(4, dtype=int)), r"X is a <U1 array.*expected a numeric"),
        ((np.ones((4, 6)), np.array([None] * 4)), r"y is a object array"),
        ((np.float64(3.0), np.zeros(1, dtype=int)), r"X is 0-d"),
        ((np.ones((4, 6)),), r"batch is a tuple of length 1; expected \(X, y\)"),
        ({"X": np.ones((4, 6))}, r"expected 'X' and 'y'"),
        ("not a batch", r"batch is a str"),
    ],
)
def test_bad_batches(model, batch, pattern):
    with pytest.raises(gk.InputError, match=pattern):
        gk.diagnose(model, batch)


def test_input_error_is_a_value_error(model):
    with pytest.raises(ValueError):
        gk.diagnose(model, (np.ones((2, 6)), np.zeros(3, dtype=int)))


@pytest.mark.parametrize(
    ("option", "pattern"),
    [
        ({"lr": -1.0}, r"lr=-1\.0; expected a positive"),
        ({"max_entries": 0}, r"max_entries=0; expected an integer >= 1"),
        ({"rtol": float("nan")}, r"rtol=nan"),
        ({"select": ["no-such-code"]}, r"select='no-such-code' is not a finding code; expected a finding code such"),
        ({"skip": "gradient-mismach"},
         r"skip='gradient-mismach' is not a finding code; did you mean 'gradient-mismatch'\?"),
        ({"seed": -3}, r"seed=-3"),
    ],
)
def test_bad_options(model, option, pattern):
    with pytest.raises(gk.InputError, match=pattern):
        gk.diagnose(model, data(), **option)


class Nothing:
    def __init__(self):
        self.W = np.ones((6, 3))

    def forward(self, X):
        return X @ self.W


def test_object_with_no_usable_interface_lists_what_was_looked_for():
    with pytest.raises(gk.ModelInterfaceError) as info:
        gk.diagnose(Nothing(), data())
    text = str(info.value)
    for part in ("backward(X, y)", "loss(X, y)", "train(X, y, lr)", "Found: forward(X): read for the outputs",
                 "gradcheck_kit.wrap"):
        assert part in text


@pytest.mark.parametrize("thing", [{"W": np.ones(3)}, np.ones(3), len])
def test_non_model_objects(thing):
    with pytest.raises(gk.ModelInterfaceError, match="expected an object with forward/backward methods"):
        gk.diagnose(thing, data())


def test_a_class_instead_of_an_instance_suggests_calling_it():
    with pytest.raises(
        gk.ModelInterfaceError, match=r"model is the class MLP, not an instance; did you mean MLP\(\)\?"
    ):
        gk.diagnose(models.MLP, data())


class MissingKey(models.MLP):
    def backward(self, X, y):
        g = super().backward(X, y)
        del g["b2"]
        g["bogus"] = np.zeros(3)
        return g


class WrongShape(models.MLP):
    def backward(self, X, y):
        g = super().backward(X, y)
        g["W3"] = g["W3"].T.copy()
        return g


class ListGrad(models.MLP):
    def backward(self, X, y):
        return [1, 2, 3]


class LossVector(models.MLP):
    def loss(self, X, y):
        return np.ones(len(y))


@pytest.mark.parametrize(
    ("cls", "pattern"),
    [
        (MissingKey, r"missing \['b2'\]"),
        (WrongShape, r"returned 'W3' with shape \(3, 8\); expected \(8, 3\)"),
        (ListGrad, r"ListGrad\.backward\(X, y\) returned a list; expected a dict mapping each parameter name"),
        (LossVector, r"LossVector\.loss\(X, y\) returned an array of shape \(16,\); expected a single number"),
    ],
)
def test_bad_gradient_or_loss_values(cls, pattern):
    with pytest.raises(gk.ModelInterfaceError, match=pattern):
        gk.diagnose(cls(), data())


class DGrads(models.MLP):
    """Gradient keys spelled dW1, db1, ... are matched to W1, b1, ..."""

    def backward(self, X, y):
        return {f"d{k}": v for k, v in super().backward(X, y).items()}


def test_d_prefixed_gradient_keys_are_accepted():
    assert gk.diagnose(DGrads(), data()).ok
