"""What the user reads: findings that name what is wrong, messages in the user's words, no leaked warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradcheck_kit as gk
from tests import models
from tests.models import data


class NaNInBackward(models.MLP):
    def weight_gradient(self, i, a_prev, delta):
        g = super().weight_gradient(i, a_prev, delta)
        if i == 2:
            g[0, 0] = np.nan
        return g


def test_a_nan_weight_is_named_in_the_non_finite_finding_and_numpy_warns_nothing():
    model = models.MLP()
    model.params["W2"][1, 2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "All-NaN slice encountered" used to leak from the kit
        report = gk.diagnose(model, data(), progress=False)
        gk.diagnose(NaNInBackward(), data(), progress=False)
    f = report.finding("non-finite")
    assert f is not None and f.layer == "2"
    assert "W2 holds 1 non-finite value (first at (1, 2): nan)" in f.message
    assert "W2" in f.fix and f.evidence["param"] == "W2"


def test_x_of_the_wrong_width_is_named_with_what_the_first_layer_takes():
    X, y = data()
    for model in (models.MLP(), models.CS231nNet()):
        with pytest.raises(gk.ModelCallError) as caught:
            gk.diagnose(model, (np.hstack([X, X]), y), progress=False)
        message = str(caught.value)
        assert message.startswith("X has shape (16, 12): 12 features per example, but the model's first "), message
        assert "W1 has shape (6, " in message and "so it takes 6; pass X with 6 features" in message
        assert "raised ValueError: matmul" in message  # numpy's own text stays, after the kit's sentence


def test_a_shape_error_unrelated_to_x_gets_no_width_hint():
    class BadOutputLayer(models.MLP):
        def loss(self, X, y):
            return float(np.sum(np.ones((2, 3)) @ np.ones((4, 5))))

    with pytest.raises(gk.ModelCallError) as caught:
        gk.diagnose(BadOutputLayer(), data(), progress=False)
    assert "X has shape" not in str(caught.value)


def test_save_model_and_save_batch_with_their_arguments_swapped_say_so(tmp_path):
    from gradcheck_kit.io import save_batch, save_model

    X, y = data()
    target = str(tmp_path / "model.npz")
    with pytest.raises(gk.InputError, match=r"save_model takes the model first, save_model\(model, path\), but got "
                                            r"the path '.*model\.npz' first and a MLP second"):
        save_model(target, models.MLP())
    with pytest.raises(gk.InputError, match=r"save_batch takes the path first, save_batch\(path, X, y\), but got an "
                                            r"array of shape \(16, 6\) as the path and the path '.*b\.npz' after it"):
        save_batch(X, y, tmp_path / "b.npz")
    assert not list(tmp_path.iterdir())  # nothing was written the wrong way round


def test_a_layered_model_is_named_once_in_the_title():
    from gradcheck_kit.model import layered, pair
    from tests import layers_models as L

    rng = np.random.default_rng(0)
    model = layered([pair(L.affine_forward, L.affine_backward, w=rng.normal(size=(6, 3)), b=np.zeros(3))],
                    loss=L.softmax_loss)
    report = gk.diagnose(model, data(), progress=False)
    assert report.model == report.style == "layered model"
    assert "Gradient check — layered model" in [line.rstrip() for line in str(report).splitlines()]
    assert "(layered model)" not in str(report)
    from gradcheck_kit.report.formats import to_markdown

    assert "(layered model)" not in to_markdown(report)


def test_lr_advice_after_wrong_gradients_does_not_read_fix_fix():
    report = gk.diagnose(models.SoftmaxDerivativeAppliedTwice(), models.clusters(B=32), lr=50.0, progress=False)
    fixes = [f.fix for f in report.findings if f.code in ("exploding-learning-rate", "label-collapse")]
    assert fixes and all(fix.startswith("First correct the wrong gradients reported above; then ") for fix in fixes)
    assert "Fix: Fix" not in str(report)


def test_notes_say_where_parameters_were_read_without_repeating_a_word():
    note = gk.diagnose(models.MLP(), data(), progress=False).notes[0]
    assert note == "forward/backward object; parameters read from the dict self.params: W1, b1, W2, b2, W3, b3"


def test_a_wrapped_loss_that_ignores_params_is_named_not_blamed_on_a_layer():
    """The natural first glue: functions that call the user's own net and ignore ``params``. The kit moves
    its copies, the loss never changes, and every finite difference is 0."""
    net = models.MLP()
    X, y = models.data()

    def loss(params, X, y):
        return net.loss(X, y)

    def grads(params, X, y):
        return net.backward(X, y)

    report = gk.diagnose(gk.wrap(dict(net.params), loss=loss, grads=grads), (X, y))
    finding = report.finding("gradient-mismatch")
    assert finding is not None and "does not read the parameters the kit moves" in finding.message
    assert "params argument" in finding.fix and "Re-derive" not in finding.fix

    def honest_loss(params, X, y):
        saved = dict(net.params)
        net.params.update(params)
        try:
            return net.loss(X, y)
        finally:
            net.params.update(saved)

    def honest_grads(params, X, y):
        saved = dict(net.params)
        net.params.update(params)
        try:
            return net.backward(X, y)
        finally:
            net.params.update(saved)

    assert gk.diagnose(gk.wrap(dict(net.params), loss=honest_loss, grads=honest_grads), (X, y)).ok
    bug = models.ActivationDerivativeMissingInLayer2()
    found = gk.diagnose(bug, (X, y)).finding("gradient-mismatch")
    assert "does not read the parameters" not in found.message and np.isfinite(found.evidence.get("numeric", 0.0))
