"""The promise: after diagnose returns or raises, every parameter array is the same object with bitwise
the same contents, and numpy's global random state is untouched."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gradcheck_kit as gk
from tests import models
from tests.conftest import assert_unchanged, snapshot
from tests.models import data


@pytest.mark.parametrize(
    "make",
    [
        lambda: models.MLP(),
        lambda: models.MLP(dtype=np.float32),
        lambda: models.CS231nNet(),
        lambda: models.SelfTrainingNet(),
        lambda: models.SoftmaxDerivativeAppliedTwice(),
    ],
)
def test_parameters_bitwise_unchanged(make):
    model = make()
    before = snapshot(model)
    state = np.random.get_state()
    gk.diagnose(model, data())
    assert_unchanged(model, before)
    after_state = np.random.get_state()
    assert after_state[0] == state[0] and np.array_equal(after_state[1], state[1]) and after_state[2:] == state[2:]


class RaisesOnCall(models.MisbehavesAtCall):
    """Raises in loss() on its k-th call, after corrupting its own weights in place."""

    def loss(self, X, y):
        at_k = self.reached()
        for w in self.params.values():
            w *= 7.0  # scribble first, then fail
        if at_k:
            raise RuntimeError("boom")
        for w in self.params.values():
            w /= 7.0
        return super().loss(X, y)


@pytest.mark.parametrize("k", [1, 2, 9])
def test_user_code_raising_midway_leaves_model_unchanged(k):
    model = RaisesOnCall(k)
    before = snapshot(model)
    with pytest.raises(gk.ModelCallError, match=r"RaisesOnCall\.loss\(\.\.\.\) raised RuntimeError: boom") as info:
        gk.diagnose(model, data())
    assert isinstance(info.value.__cause__, RuntimeError)
    assert_unchanged(model, before)


class NotCopyable(models.MLP):
    """Holds a lock, so copy.deepcopy fails and the kit must work on the live object and restore it."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.lock = threading.Lock()


def test_live_model_that_cannot_be_copied_is_restored():
    model = NotCopyable(dtype=np.float32)
    before = snapshot(model)
    report = gk.diagnose(model, data())
    assert report.ok
    assert any("could not be deep-copied" in n for n in report.notes)
    assert_unchanged(model, before)


class NotCopyableRaising(NotCopyable):
    def backward(self, X, y):
        raise ValueError("backward is broken")


def test_live_model_raising_is_restored():
    model = NotCopyableRaising()
    before = snapshot(model)
    with pytest.raises(gk.ModelCallError, match="backward is broken"):
        gk.diagnose(model, data())
    assert_unchanged(model, before)


class SelfTrainingReassigns(models.SelfTrainingNet):
    """Updates by re-assignment (self.W = self.W - ...), not in place."""

    def train(self, X, y, lr):
        W1, b1, W2, b2 = self.W1.copy(), self.b1.copy(), self.W2.copy(), self.b2.copy()
        super().train(X, y, lr)
        self.W1, self.b1, self.W2, self.b2 = self.W1.copy(), self.b1.copy(), self.W2.copy(), self.b2.copy()
        del W1, b1, W2, b2


def test_self_training_by_reassignment_is_read_and_model_kept():
    model = SelfTrainingReassigns()
    before = snapshot(model)
    report = gk.diagnose(model, data())
    assert report.ok, report
    assert_unchanged(model, before)


def test_wrapped_params_dict_is_unchanged():
    model = models.MLP((6, 8, 3))
    params = {k: v.copy() for k, v in model.params.items()}
    before = {k: (v, v.tobytes()) for k, v in params.items()}

    def loss(p, X, y):
        model.params = p
        return model.loss(X, y)

    def grads(p, X, y):
        model.params = p
        return model.backward(X, y)

    gk.diagnose(gk.wrap(params=params, loss=loss, grads=grads), data())
    for k, (v, b) in before.items():
        assert params[k] is v and v.tobytes() == b
