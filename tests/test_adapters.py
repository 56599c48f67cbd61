"""Each supported way of writing a model is read without glue code."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from tests import models
from tests.models import data


class ParamsMethod(models.MLP):
    """``params()`` is a method returning a fresh dict each call, over float32 attributes."""

    def __init__(self):
        inner = models.MLP((6, 8, 3), dtype=np.float32)
        self.__dict__["_store"] = inner.params
        self.sizes, self.activation, self.reg = inner.sizes, inner.activation, inner.reg

    def params(self):  # type: ignore[override]
        return dict(self._store)

    def _forward(self, X):
        saved = self.__dict__.get("params")
        self.__dict__["params"] = self._store
        try:
            return models.MLP._forward(self, X)
        finally:
            if saved is None:
                del self.__dict__["params"]

    def loss(self, X, y):
        self.__dict__["params"] = self._store
        try:
            return models.MLP.loss(self, X, y)
        finally:
            del self.__dict__["params"]

    def backward(self, X, y):
        self.__dict__["params"] = self._store
        try:
            return models.MLP.backward(self, X, y)
        finally:
            del self.__dict__["params"]


def test_params_method_rebuilding_its_dict_is_checked_in_place_in_float32():
    report = gk.diagnose(ParamsMethod(), data())
    assert report.ok, report
    assert {t.working_dtype for t in report.tensors} == {"float32"}
    assert any("could not be swapped for a float64 copy" in n for n in report.notes)


class Nested:
    """numpy-ml style: nested parameter dicts, gradients() returning nested dicts."""

    def __init__(self):
        m = models.MLP((6, 8, 3))
        self.m = m
        self.parameters = {"hidden": {"W": m.params["W1"], "b": m.params["b1"]},
                           "output": {"W": m.params["W2"], "b": m.params["b2"]}}

    def _sync(self):
        p = self.parameters
        self.m.params = {"W1": p["hidden"]["W"], "b1": p["hidden"]["b"], "W2": p["output"]["W"], "b2": p["output"]["b"]}

    def forward(self, X):
        self._sync()
        return self.m.forward(X)

    def loss(self, X, y):
        self._sync()
        return self.m.loss(X, y)

    def gradients(self, X, y):
        self._sync()
        g = self.m.backward(X, y)
        return {"hidden": {"W": g["W1"], "b": g["b1"]}, "output": {"W": g["W2"], "b": g["b2"]}}


def test_nested_parameter_dicts_flatten_to_dotted_layers():
    report = gk.diagnose(Nested(), data())
    assert report.ok
    assert [t.param for t in report.tensors] == ["output.W", "output.b", "hidden.W", "hidden.b"]
    assert [s.layer for s in report.layers] == ["output", "hidden"]
    assert report.notes[0].startswith(
        "forward/backward object; parameters read from the dict self.parameters: hidden.W")


class AttributesAndGradStore:
    """No params dict; backward() returns None and leaves the gradient on self.grads with dW-keys."""

    def __init__(self):
        m = models.MLP((6, 8, 3))
        self.m = m
        self.W1, self.b1, self.W2, self.b2 = (m.params[k] for k in ("W1", "b1", "W2", "b2"))

    def _sync(self):
        self.m.params = {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def loss(self, X, y):
        self._sync()
        return self.m.loss(X, y)

    def backward(self, X, y):
        self._sync()
        self.grads = {f"d{k}": v for k, v in self.m.backward(X, y).items()}


def test_attribute_parameters_named_by_the_gradient_dict():
    report = gk.diagnose(AttributesAndGradStore(), data())
    assert report.ok, report
    assert sorted(t.param for t in report.tensors) == ["W1", "W2", "b1", "b2"]


class ForgetsToUpdateB2(models.SelfTrainingNet):
    def train(self, X, y, lr):
        b2 = self.b2.copy()
        super().train(X, y, lr)
        self.b2[:] = b2


def test_self_training_weight_that_is_never_updated_is_still_checked():
    report = gk.diagnose(ForgetsToUpdateB2(), data())
    b2 = next(t for t in report.tensors if t.param == "b2")
    assert b2.verdict == "fail"
    assert [f.layer for f in report.findings if f.code == "gradient-mismatch"] == ["2"]


class StepOnly:
    """Self-training net whose training method is called step(), with no train()."""

    __init__ = models.SelfTrainingNet.__init__
    forward = models.SelfTrainingNet.forward

    def step(self, X, y, lr):
        models.SelfTrainingNet.train(self, X, y, lr)


def test_step_is_accepted_as_the_training_method():
    report = gk.diagnose(StepOnly(), data())
    assert report.ok
    assert any("step(X, y, lr)" in n for n in report.notes)


class PredictReturnsLabels:
    """No forward(); predict() returns class labels and predict_proba() the probabilities."""

    __init__ = models.SelfTrainingNet.__init__
    predict_proba = models.SelfTrainingNet.forward

    def predict(self, X):
        return self.predict_proba(X).argmax(1)

    def train(self, X, y, lr):
        self.forward = self.predict_proba  # SelfTrainingNet.train calls self.forward
        models.SelfTrainingNet.train(self, X, y, lr)
        del self.forward


def test_label_returning_predict_is_not_mistaken_for_scores():
    report = gk.diagnose(PredictReturnsLabels(), data())
    assert report.ok, report
    assert any("predict_proba()'s probabilities" in n for n in report.notes)


def test_wrap_validates_its_arguments():
    with pytest.raises(gk.ModelInterfaceError, match="expected a non-empty dict"):
        gk.wrap(params={}, loss=lambda p, X, y: 0.0, grads=lambda p, X, y: {})
    with pytest.raises(gk.ModelInterfaceError, match="needs grads="):
        gk.wrap(params={"W": np.ones(2)}, loss=lambda p, X, y: 0.0)
    with pytest.raises(gk.ModelInterfaceError, match=r"\['n'\] are not non-empty float arrays"):
        gk.wrap(params={"n": np.ones(2, dtype=int)}, loss=lambda p, X, y: 0.0, grads=lambda p, X, y: {})


def test_wrap_with_train_only_infers_the_gradient():
    model = models.MLP((6, 8, 3))

    def loss(p, X, y):
        model.params = p
        return model.loss(X, y)

    def train(p, X, y, lr):
        model.params = p
        for k, g in model.backward(X, y).items():
            p[k] -= lr * g

    params = {k: v.copy() for k, v in model.params.items()}
    report = gk.diagnose(gk.wrap(params=params, loss=loss, train=train), data())
    assert report.ok, report
