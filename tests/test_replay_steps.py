"""The training replays' steps: single-example gradients through `gradient_loop`, SGD applied in place, the
label-collapse replay's early stop."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.measure.replay import online_replay, sgd_step
from gradcheck_kit.model import adapt
from gradcheck_kit.model.loss_loop import gradient_loop
from gradcheck_kit.numeric import axpy
from gradcheck_kit.numeric.losses import softmax
from tests import models
from tests.models import clusters


def view_past_watch(model, batch_data):
    view, batch = adapt(model, batch_data)
    for _ in range(3):  # past the first calls, on which the view watches for global random draws
        view.gradients(batch)
    return view, batch


def singles_of(batch, n=6):
    return [batch.take(slice(i, i + 1)) for i in range(n)]


def test_the_gradient_loop_gives_what_single_calls_give_without_going_through_them(monkeypatch):
    view, batch = view_past_watch(models.MLP(), clusters(B=16))
    singles = singles_of(batch)
    expected = [view.gradients(b) for b in singles]
    calls = view.calls["backward"]
    monkeypatch.setattr(view, "gradients", lambda *a, **k: pytest.fail("the loop went through ModelView.gradients"))
    with gradient_loop(view, singles) as gradient_of:
        got = [gradient_of(i) for i in range(len(singles))]
    for want, have in zip(expected, got, strict=True):
        assert want.keys() == have.keys()
        for name in want:
            np.testing.assert_array_equal(want[name], have[name])
    assert view.calls["backward"] == calls + len(singles)


class BackwardRaisesAt(models.MisbehavesAtCall):
    def backward(self, X, y):
        if self.reached():
            raise ZeroDivisionError("bad")
        return super().backward(X, y)


def test_a_model_raising_in_the_gradient_loop_is_named_with_its_call_number():
    view, batch = view_past_watch(BackwardRaisesAt(9), clusters(B=16))
    with pytest.raises(gk.ModelCallError) as raised, gradient_loop(view, singles_of(batch)) as gradient_of:
        for i in range(6):
            gradient_of(i)
    assert str(raised.value).endswith("BackwardRaisesAt.backward(...) raised ZeroDivisionError: bad "
                                      "[call 9 of backward]")
    assert view.calls["backward"] == 9


class DividesInBackward(models.MLP):
    def backward(self, X, y):
        _ = np.ones(1) / np.zeros(1)  # a division by zero numpy warns about, or raises on if told to
        return super().backward(X, y)


def test_the_callers_numpy_error_settings_apply_to_the_models_code_in_the_loop_only():
    with np.errstate(divide="ignore"):  # the caller's settings when the view is made
        view, batch = view_past_watch(DividesInBackward(), clusters(B=16))
    view.user_errstate = {**view.user_errstate, "divide": "raise"}
    with pytest.raises(gk.ModelCallError, match="FloatingPointError"), \
            gradient_loop(view, singles_of(batch)) as gradient_of:
        gradient_of(0)
    view.user_errstate = {**view.user_errstate, "divide": "ignore"}
    with np.errstate(divide="raise"), gradient_loop(view, singles_of(batch)) as gradient_of:
        grads = gradient_of(0)
        with pytest.raises(FloatingPointError):  # the caller's own arithmetic keeps the caller's settings
            _ = np.ones(1) / np.zeros(1)
    assert set(grads) == set(view.params)


def test_a_model_that_writes_into_its_inputs_is_stepped_call_by_call(monkeypatch):
    view, batch = view_past_watch(models.MLP(), clusters(B=16))
    view.copy_inputs = True  # as the side-effect probe sets it for such a model
    used = []
    original = view.gradients
    monkeypatch.setattr(view, "gradients", lambda b, **k: used.append(b) or original(b, **k))
    with gradient_loop(view, singles_of(batch)) as gradient_of:
        gradient_of(0)
    assert len(used) == 1


class KeepsItsGradient(models.MLP):
    """Returns the same arrays it keeps (``self.grads``), as layer code often does."""

    def backward(self, X, y):
        self.grads = super().backward(X, y)
        return self.grads


def test_an_sgd_step_never_writes_into_the_models_own_gradient_arrays():
    view, batch = view_past_watch(KeepsItsGradient(), clusters(B=16))
    before = {name: array.copy() for name, array in view.params.items()}
    grads = view.gradients(batch)
    with np.errstate(all="ignore"):
        sgd_step(view, batch, 0.5)
    kept = view.target.grads
    for name in view.params:
        np.testing.assert_array_equal(kept[name], grads[name])  # the model's arrays are as it returned them
        np.testing.assert_allclose(view.params[name], before[name] - 0.5 * grads[name], rtol=0, atol=1e-15)


def test_an_sgd_step_on_a_large_tensor_equals_the_plain_update(monkeypatch):
    monkeypatch.setattr(axpy, "SLICE", 7)  # slices of 7 entries: every tensor goes slice by slice
    view, batch = view_past_watch(models.MLP(), clusters(B=16))
    before = {name: array.copy() for name, array in view.params.items()}
    grads = view.gradients(batch)
    sgd_step(view, batch, 0.3)
    for name in view.params:
        np.testing.assert_array_equal(view.params[name], before[name] - 0.3 * grads[name])


def test_the_collapse_replay_stops_once_its_median_cannot_reach_collapse_and_not_before():
    view, batch = adapt(models.MLP((6, 16, 3)), clusters(B=16))
    full = online_replay(view, batch, 0.1, 96, softmax, 64)
    early = online_replay(view, batch, 0.1, 96, softmax, 64, give_up_below=0.5)
    judged = int(full.label_changed.sum())
    assert full.share.size == 32 and np.median(full.share[full.label_changed]) < 0.5
    assert early.share.size < full.share.size  # a correct network gives up early ...
    np.testing.assert_array_equal(early.share, full.share[: early.share.size])  # ... on the same steps
    low = early.label_changed & (early.share < 0.5)
    assert low.sum() == judged // 2 + 1  # ... right when more than half of the judged steps fell below
    assert np.isnan(early.accuracy_end) and not np.isnan(full.accuracy_end)
