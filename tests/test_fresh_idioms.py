"""Acceptance: ten networks written from a brief of public from-scratch idioms only (Nielsen, CS231n, nnfs,
deeplearning.ai, torch-like modules, a blog MLP that only trains itself, min-char-rnn, a float32 "MNIST from
scratch" net, layers that update themselves, an sklearn clone), never against the kit's interface
(tests/idioms/fresh/; each file's ``make(buggy)`` returns ``(model, X, y, lr)`` and names its bug in a
``BUG:`` line). Each is diagnosed as a user would call it, with its own learning rate: the correct version
must not raise an alarm, and the buggy one must be caught, wherever the kit reads the model with no glue."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import gradcheck_kit as gk


def _make(name, buggy):
    module = importlib.import_module(f"tests.idioms.fresh.{name}")
    np.random.seed(0)  # the deeplearning.ai idiom draws its weights from the global generator
    return module.make(buggy=buggy)


def _diagnose(name, buggy):
    model, X, y, lr = _make(name, buggy)
    with np.errstate(all="ignore"):  # the idioms' own log(0)/overflow warnings are not the point here
        return gk.diagnose(model, (X, y), lr=lr, progress=False)


#: Read with no glue; the correct version passes; the buggy one fails on these parameters.
CAUGHT = {
    "ng_planar_classifier": {"b1"},  # db1 lacks 1/m (compute_cost(A2, Y) fed from forward_propagation)
    "float32_deep_nn": {"W1"},  # a missing transpose on a square W2, seen first where it enters
    "min_char_rnn": {"Whh"},  # dWhh uses hs[t] for hs[t-1]
    # fit(X, y) read as one step: its max_iter and batch_size set to one pass of the whole batch, and its
    # learning_rate_init (not alpha, sklearn's L2 strength) given the kit's rate; the bug flips a sign
    "sklearn_style_mlp": {"coefs_[2]", "intercepts_[2]"},
    # L2 in the loss as reg * sum(W * W) while the gradient adds reg * W (named weight-decay-mismatch)
    "cs231n_fc_net": {"W1", "W2"},
}


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_the_correct_version_passes(name):
    report = _diagnose(name, buggy=False)
    assert report.ok, report


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_the_buggy_version_is_caught_where_it_is_wrong(name):
    report = _diagnose(name, buggy=True)
    failing = {t.param for t in report.tensors if t.verdict == "fail"}
    assert not report.ok and CAUGHT[name] <= failing, (failing, report)


@pytest.mark.parametrize("name", ["blog_train_only", "nielsen_network"])
def test_correct_versions_read_through_their_training_step_pass(name):
    assert _diagnose(name, buggy=False).ok


def test_nielsens_step_without_the_batch_average_is_named():
    """Its backprop(x, y) is right; update_mini_batch(mini_batch, eta) uses eta, not eta / len(mini_batch). The
    examples given as (X, y), each a column vector: the step gets them zipped into pairs, as Nielsen's loop does."""
    assert _diagnose("nielsen_network", buggy=False).ok
    report = _diagnose("nielsen_network", buggy=True)
    assert report.codes() == ["missing-batch-average"], report


def test_a_model_that_trains_on_mini_batches_gets_no_one_example_replay():
    """CS231n's train(X, y, ..., batch_size=200): replayed one example at a time at lr 0.1 on its unnormalised
    toy data, its predictions do follow the last label, but that is not how it trains — no label-collapse
    alarm, and a note says why."""
    report = _diagnose("cs231n_fc_net", buggy=False)
    assert "label-collapse" not in report.codes()
    assert any("label-collapse was not run: train(..., batch_size=200)" in note for note in report.notes)


def test_nnfs_models_doubled_softmax_derivative_is_named():
    """nnfs's Model: forward(X, training) called with training=False, the loss from the loss object it was
    set with (self.loss.calculate(output, y)); its backward passes (y_hat - y) / N through the softmax's own
    backward once more — the question's bug — while the correct version's gradient agrees everywhere."""
    correct = _diagnose("nnfs_model", buggy=False)
    assert correct.ok and correct.tensors and all(t.verdict == "pass" for t in correct.tensors), correct
    report = _diagnose("nnfs_model", buggy=True)
    assert "doubled-softmax-derivative" in report.codes(), report


@pytest.mark.parametrize("lr", [None, 1.0])
def test_an_nnfs_model_after_its_own_training_is_read_as_before(lr):
    """Once nnfs's train(X, y, epochs=...) has run, its softmax keeps its last inputs beside their dinputs: a
    cache, not a parameter (forward rewrites it). It was read as one — gradient-mismatch and
    mutates-parameters on the correct model, and with lr a crash (the cache changed shape); the buggy one
    is still named."""
    import contextlib
    import io

    for buggy in (False, True):
        model, X, y, _ = _make("nnfs_model", buggy)
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
            model.train(X, y, epochs=10)
            report = gk.diagnose(model, (X, y), lr=lr, progress=False)
        assert not any(t.param.endswith(".inputs") for t in report.tensors), report
        if buggy:
            assert "doubled-softmax-derivative" in report.codes(), report
        else:
            assert report.ok and report.codes() == [], report


def test_character_indices_are_not_called_unnormalised_inputs():
    """min-char-rnn's inputs are the characters' indices (0..vocabulary size), one per step: nothing to scale."""
    assert _diagnose("min_char_rnn", buggy=False).codes() == []


@pytest.mark.parametrize("name", ["minitorch_modules", "layer_update_in_backward"])
def test_a_model_that_keeps_no_loss_is_read_with_loss_named(name):
    """Torch-like modules with a separate criterion, and a bare list of layers trained with module-level mse
    functions, keep no loss: the kit asks for it (one argument), and with it the correct version passes and
    the buggy one fails (zero_grad forgetting db; weights updated before the input gradient is taken)."""
    module = importlib.import_module(f"tests.idioms.fresh.{name}")
    loss = module.CrossEntropyLoss() if name == "minitorch_modules" else (module.mse, module.mse_prime)
    for buggy in (False, True):
        model, X, y, lr = module.make(buggy=buggy)
        with pytest.raises(gk.ModelInterfaceError, match="loss="):
            gk.diagnose(model, (X, y), lr=lr, progress=False)
        report = gk.diagnose(model, (X, y), lr=lr, loss=loss, progress=False)
        assert report.ok is not buggy, report
