"""The exhaustive check's tight loop: losses taken in one loop and judged together give bitwise the verdicts
of entry-by-entry judging, and every promise around a check still holds inside it."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck_kit as gk
from gradcheck_kit.model import adapt
from gradcheck_kit.model.loss_loop import loss_loop
from gradcheck_kit.numeric import blocks
from gradcheck_kit.numeric.blocks import plain_passes
from gradcheck_kit.numeric.comparison import EntryTable, TensorComparison
from gradcheck_kit.numeric.differences import Estimate, judge
from gradcheck_kit.numeric.steps import step_size
from gradcheck_kit.numeric.tolerance import Tolerance
from tests import models
from tests.conftest import assert_unchanged, snapshot
from tests.models import data


def table_bytes(table):
    return (table.flat.tobytes(), table.analytic.tobytes(), table.numeric.tobytes(), table.rel_error.tobytes(),
            table.bound.tobytes(), table.status.tobytes(), sorted(table.reasons.items()))


def comparison(work, analytic, loss, on_eval=None, **options):
    settings_ = dict(source_dtype=work.dtype, tolerance=Tolerance(), rng=np.random.default_rng(0), max_entries=50,
                     probes=0, exhaustive=True, on_eval=on_eval)
    settings_.update(options)
    return TensorComparison("w", "w", work, analytic, loss, loss(), **settings_)


def one_by_one(make, **options):
    work, analytic, loss = make()
    c = comparison(work, analytic, loss, **options)
    table = EntryTable.allocate(work.size)
    for i in range(work.size):
        table.put(i, i, c.check_entry(i))
    return table


def together(make, **options):
    work, analytic, loss = make()
    before = work.tobytes()
    c = comparison(work, analytic, loss, **options)
    handed = []
    c.check_entries(np.arange(work.size), lambda offset, table: handed.append((offset, table)))
    assert work.tobytes() == before
    assert [offset for offset, _ in handed] == [0]
    return handed[0][1]


# -- the functions: smooth, wrong, kinked, non-finite, float32, strided -------------------------------------
def smooth_with_wrong_entries():
    w = np.random.default_rng(1).normal(size=(5, 6))
    analytic = np.cos(w)
    analytic[1, 2] *= -1
    analytic[4, 0] += 1e-3
    return w, analytic, lambda: float(np.sum(np.sin(w)))


def kinks():
    h = step_size(np.zeros(1))
    w = np.array([0.0, 1.0, -2.0, 0.0, h / 4, 0.5])
    analytic = np.array([0.0, 1.0, 0.0, 0.25, 0.5, 1.0])  # 0 and 3 at kinks, 4 wrong next to a kink

    def loss():
        return float(np.sum(np.maximum(w, 0)) - 0.5 * np.maximum(-w[3], 0) + np.maximum(w[4] - h / 4, 0))

    return w, analytic, loss


def non_finite():
    w = np.array([0.0, 1.0, 4.0, 9.0])
    analytic = np.array([0.0, 0.5, math.nan, 1 / 6])

    def loss():
        with np.errstate(invalid="ignore"):
            return float(np.sum(np.sqrt(w)))  # nan below 0: entry 0 moved down

    return w, analytic, loss


def float32():
    w = np.random.default_rng(2).normal(size=(4, 4)).astype(np.float32)
    return w, 2 * w.astype(np.float64), lambda: float(np.sum(w.astype(np.float64) ** 2))


def strided():
    base = np.random.default_rng(3).normal(size=(6, 8))
    w = base.T[::2]  # not contiguous: moved through .flat
    analytic = 3 * w**2
    analytic[0, 1] = 0.0
    return w, analytic, lambda: float(np.sum(w**3))


CASES = [smooth_with_wrong_entries, kinks, non_finite, float32, strided]


@pytest.mark.parametrize("make", CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("options", [{}, {"tolerance": Tolerance(rtol=1e-3, atol=1e-9)}, {"loss_noise": 1e-12}],
                         ids=["default", "rtol-atol", "noisy"])
def test_judged_together_is_bitwise_judged_one_by_one(make, options):
    assert table_bytes(together(make, **options)) == table_bytes(one_by_one(make, **options))


def test_the_cases_cover_every_verdict():
    statuses = set()
    for make in CASES:
        statuses |= set(together(make).status.tolist())
    assert statuses == {0, 1, 2}


finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(analytic=finite, base=finite, delta=st.floats(-1e-3, 1e-3), curvature=st.floats(-1e-9, 1e-9),
       step=st.floats(1e-8, 1e-2), wrong=st.sampled_from([0.0, 1e-9, 1e-7, 1e-5, 1e-3]),
       noise=st.sampled_from([0.0, 1e-14, 1e-6]), atol=st.sampled_from([None, 1e-8]), random=st.booleans())
def test_a_plain_pass_is_exactly_judges_pass(analytic, base, delta, curvature, step, wrong, noise, atol, random):
    """Whatever `plain_passes` passes, `judge` passes at once with the same numbers; and what `judge`
    passes at once without a reason, `plain_passes` passes too (else the loop would gain nothing)."""
    plus = base + (analytic + wrong) * step + curvature
    minus = base - (analytic + wrong) * step + curvature
    tolerance, dtype = Tolerance(atol=atol), np.dtype("float64")
    plain = plain_passes(np.array([analytic]), base, np.array([plus]), np.array([minus]), np.array([step]),
                         tolerance=tolerance, rtol=1e-6, dtype=dtype, loss_noise=noise, random=random)
    j = judge(analytic, Estimate.from_losses(base, plus, minus, step), tolerance=tolerance, rtol=1e-6, dtype=dtype,
              loss_noise=noise, random=random)
    if plain.passed[0]:
        assert j.status == "pass" and not j.reason
        assert (j.numeric, j.rel_error, j.bound) == (plain.numeric[0], plain.rel_error[0], plain.bound[0])
    else:
        assert j.status != "pass" or j.reason


# -- interrupted in the middle of a block -------------------------------------------------------------------
class Interrupt(Exception):
    pass


@pytest.mark.parametrize("at", [1, 2, 7, 8, 24])
def test_an_interruption_mid_block_hands_over_the_entries_taken_and_restores_the_tensor(at):
    w, analytic, loss = smooth_with_wrong_entries()
    before = w.tobytes()
    calls = {"n": -1}  # the base loss is call 0

    def interrupted():
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt
        return loss()

    c = comparison(w, analytic, interrupted)
    handed = []
    with pytest.raises(KeyboardInterrupt):
        c.check_entries(np.arange(w.size), lambda offset, table: handed.append(table))
    assert w.tobytes() == before
    reference = one_by_one(smooth_with_wrong_entries)
    complete = (at - 1) // 2  # the entries whose two losses came back
    first_retest = int(np.flatnonzero(reference.status != 0)[0])
    assert first_retest < 24 // 2
    judged = sum(t.flat.size for t in handed)
    assert judged == min(complete, first_retest)  # those judged without another evaluation
    if judged:
        assert table_bytes(handed[0]) == table_bytes(reference.head(judged))


@pytest.mark.parametrize("at", [61, 66, 67, 72])
def test_an_interruption_in_a_re_test_hands_over_the_entries_before_it(at):
    w, analytic, loss = smooth_with_wrong_entries()  # entries 8 and 24 are re-tested, six evaluations each
    calls = {"n": -1}

    def interrupted():
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt
        return loss()

    handed = []
    with pytest.raises(KeyboardInterrupt):
        comparison(w, analytic, interrupted).check_entries(np.arange(w.size), lambda o, table: handed.append(table))
    judged = handed[0].flat.size
    assert judged == (8 if at <= 66 else 24)  # 60 evaluations for the 30 entries, then the re-tests
    assert table_bytes(handed[0]) == table_bytes(one_by_one(smooth_with_wrong_entries).head(judged))


class StopsAtEntry(models.MLP):
    """Raises ``exc`` in the loss call that sees entry ``k`` of W1, alone, moved up: inside the exhaustive
    loop over W1, after its first k entries were taken."""

    def __init__(self, k, exc):
        super().__init__()
        self.k, self.exc, self.start = k, exc, self.params["W1"].copy()

    def loss(self, X, y):
        moved = np.flatnonzero(self.params["W1"] != self.start)
        if self.exc is not None and moved.tolist() == [self.k] and self.params["W1"].flat[self.k] > self.start.flat[
                self.k]:
            raise self.exc
        return super().loss(X, y)


def test_ctrl_c_in_an_exhaustive_run_keeps_the_entries_taken_before_it():
    whole = gk.diagnose(StopsAtEntry(5, None), data(), exhaustive=True, progress=False)
    model = StopsAtEntry(5, KeyboardInterrupt())
    before = snapshot(model)
    report = gk.diagnose(model, data(), exhaustive=True, progress=False)
    assert_unchanged(model, before)
    partial = report.tensors[-1]
    assert partial.param == "W1" and not partial.complete and partial.checked == 5
    reference = next(t for t in whole.tensors if t.param == "W1")
    assert table_bytes(partial.table) == table_bytes(reference.table.head(5))


# -- progress ----------------------------------------------------------------------------------------------
def test_progress_is_reported_while_a_block_runs_and_counts_every_evaluation(monkeypatch):
    monkeypatch.setattr(blocks, "REPORT_SECONDS", 0.02)
    w, analytic, loss = kinks()
    calls = {"n": 0}

    def slow():
        calls["n"] += 1
        time.sleep(0.003)
        return loss()

    reports = []
    c = comparison(w, analytic, slow, on_eval=reports.append)
    calls["n"] = 0
    c.check_entries(np.arange(w.size), lambda offset, table: None)
    assert len(reports) >= 3  # during the block, not once at its end
    assert sum(reports) == calls["n"] > 2 * w.size  # the re-tests of the kinks counted too


def test_the_progress_bar_reaches_its_total_in_an_exhaustive_run(monkeypatch):
    import importlib

    run_module = importlib.import_module("gradcheck_kit.run")
    bars = []

    class Recorded(run_module.ProgressBar):
        def close(self):
            bars.append((self.done, self.total, self.unit))
            super().close()

    monkeypatch.setattr(run_module, "ProgressBar", Recorded)
    gk.diagnose(models.MLP(), data(), exhaustive=True, progress=False)
    done, total, _ = next(b for b in bars if b[2] == "loss evaluations")
    assert done >= total - 8  # all but the baseline and noise evaluations, which are not reported


# -- the model's side: coercion, errors, numpy's settings, fallbacks ---------------------------------------
def as_kind(value, kind):
    if kind == "0-d array":
        return np.array(value)
    if kind == "1-element array":
        return np.array([value])
    if kind == "float32":
        return np.float32(value)
    if kind == "torch scalar":
        import torch

        return torch.tensor(value, dtype=torch.float64)
    return value


class Returns(models.MLP):
    """A forward/backward object whose loss comes back as ``kind``."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def loss(self, X, y):
        value = super().loss(X, y)
        return (value, super().backward(X, y)) if self.kind == "(loss, grads)" else as_kind(value, self.kind)


def wrapped_returning(kind):
    """Functions under `wrap` whose loss comes back as ``kind`` (a torch scalar among them)."""
    mlp = models.MLP()

    def loss(params, X, y):
        mlp.params = params
        value = mlp.loss(X, y)
        return (np.zeros(3), value) if kind == "(loss, grads)" else as_kind(value, kind)  # (h, cost)

    def grads(params, X, y):
        mlp.params = params
        return mlp.backward(X, y)

    return gk.wrap(dict(mlp.params), loss=loss, grads=grads)


def view_in_loop(model):
    view, batch = adapt(model, data())
    for _ in range(3):  # past the first calls, on which the view watches for global random draws
        view.loss(batch)
    return view, batch


KINDS = ["float", "0-d array", "1-element array", "float32", "(loss, grads)"]


@pytest.mark.parametrize(("make", "kind"), [(Returns, k) for k in KINDS] + [
    (wrapped_returning, k) for k in [*KINDS, "torch scalar"]])
def test_the_loop_gives_the_loss_as_a_single_call_does(make, kind, monkeypatch):
    if kind == "torch scalar":
        pytest.importorskip("torch")
    view, batch = view_in_loop(make(kind))
    expected = view.loss(batch)
    calls = view.calls["loss"]
    monkeypatch.setattr(view, "loss", lambda batch: pytest.fail("the loop went through ModelView.loss"))
    with loss_loop(view, batch) as loss:
        values = [loss(), loss()]
    assert type(values[0]) is float and values == [expected, expected]
    assert view.calls["loss"] == calls + 2


class NotScalarLater(models.MLP):
    scalar = True

    def loss(self, X, y):
        value = super().loss(X, y)
        return value if self.scalar else np.array([value, value])


def test_a_non_scalar_loss_in_the_loop_is_the_same_clear_error():
    view, batch = view_in_loop(NotScalarLater())
    view.target.scalar = False  # the kit's private copy
    with pytest.raises(gk.ModelInterfaceError) as single:
        view.loss(batch)
    with pytest.raises(gk.ModelInterfaceError) as looped, loss_loop(view, batch) as loss:
        loss()
    assert str(looped.value) == str(single.value)
    assert "returned an array of shape (2,); expected a single number (the batch loss)" in str(single.value)


class RaisesAt(models.MisbehavesAtCall):
    def loss(self, X, y):
        if self.reached():
            raise ZeroDivisionError("bad")
        return super().loss(X, y)


def test_a_model_raising_in_the_loop_is_named_with_its_call_number():
    view, batch = view_in_loop(RaisesAt(7))
    with pytest.raises(gk.ModelCallError) as raised, loss_loop(view, batch) as loss:
        for _ in range(10):
            loss()
    assert str(raised.value).endswith("RaisesAt.loss(...) raised ZeroDivisionError: bad [call 7 of loss]")
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    assert view.calls["loss"] == 7


def test_a_model_raising_mid_tensor_in_an_exhaustive_run_is_a_clear_error_and_the_model_is_unchanged():
    model = StopsAtEntry(5, ZeroDivisionError("bad"))
    before = snapshot(model)
    with pytest.raises(gk.ModelCallError, match=r"StopsAtEntry\.loss\(\.\.\.\) raised ZeroDivisionError: bad "
                                                r"\[call \d+ of loss\]"):
        gk.diagnose(model, data(), exhaustive=True, progress=False)
    assert_unchanged(model, before)


class OverflowsLater(models.MLP):
    def __init__(self):
        super().__init__()
        self.n = 0

    def loss(self, X, y):
        self.n += 1
        if self.n > 60:
            np.exp(np.array([1000.0]))  # FloatingPointError under np.seterr(over="raise")
        return super().loss(X, y)


def test_the_models_code_runs_with_the_callers_numpy_settings_inside_the_loop():
    old = np.seterr(over="raise")
    try:
        with pytest.raises(gk.ModelCallError, match="FloatingPointError"):
            gk.diagnose(OverflowsLater(), data(), exhaustive=True, progress=False)
    finally:
        np.seterr(**old)
    with pytest.warns(RuntimeWarning, match="overflow"):  # the caller's setting now: warn
        report = gk.diagnose(OverflowsLater(), data(), exhaustive=True, progress=False)
    assert report.ok


def test_the_kits_arithmetic_on_non_finite_losses_ignores_the_callers_numpy_settings():
    class InfAbove(models.MLP):
        def loss(self, X, y):
            return math.inf if self.params["b2"][0] > 0.1 + 1e-9 else super().loss(X, y)

    model = InfAbove()
    model.params["b2"][0] = 0.1
    old = np.seterr(all="raise")
    try:
        report = gk.diagnose(model, data(), exhaustive=True, progress=False)
    finally:
        np.seterr(**old)
    b2 = next(t for t in report.tensors if t.param == "b2")
    assert b2.entries[0].status == "inconclusive" and "not finite" in b2.entries[0].judgement.reason


# -- the whole run: the same report as entry by entry, for every kind of model ------------------------------
def entry_by_entry(self, indices, put):
    self._one_by_one(indices, put)


def verdicts(report):
    return [table_bytes(t.table) for t in report.tensors], report.to_dict()["params"], report.codes(), report.calls


def relu_on_kinks():
    model = models.MLP((6, 5, 3), activation="relu")
    X, _ = data()
    model.params["b1"][:] = -(X[0] @ model.params["W1"])
    return model


class WritesIntoInput(models.MLP):
    def loss(self, X, y):
        X /= 2.0
        return super().loss(X * 2.0, y)


class TrainsInsideLoss(models.MLP):
    def loss(self, X, y):
        value = super().loss(X, y)
        for k, g in super().backward(X, y).items():
            self.params[k] -= 0.01 * g
        return value


class DropoutFromTheGlobalGenerator(models.MLP):
    def _forward(self, X):
        acts, zs = super()._forward(X)
        acts[1] = acts[1] * (np.random.random(acts[1].shape) > 0.5) / 0.5
        return acts, zs


MODELS = {
    "correct": models.MLP,
    "softmax twice": models.SoftmaxDerivativeAppliedTwice,
    "relu on kinks": relu_on_kinks,
    "float32": lambda: models.MLP(dtype=np.float32),
    "cs231n": lambda: models.CS231nNet(forget_reg_in_W1=True),
    "self-training": lambda: models.SelfTrainingNet(doubled_softmax=True),
    "functions": lambda: models.as_functions(models.GradientSummedNotAveraged()),
    "writes into its input": WritesIntoInput,
    "trains inside its loss": TrainsInsideLoss,
    "global dropout": DropoutFromTheGlobalGenerator,
}


@pytest.mark.parametrize("make", list(MODELS.values()), ids=list(MODELS))
def test_an_exhaustive_report_is_bitwise_the_entry_by_entry_one(make, monkeypatch):
    state = np.random.get_state()
    fast = gk.diagnose(make(), data(), exhaustive=True, progress=False)
    np.random.set_state(state)
    with monkeypatch.context() as m:
        m.setattr(TensorComparison, "check_entries", entry_by_entry)
        slow = gk.diagnose(make(), data(), exhaustive=True, progress=False)
    assert verdicts(fast) == verdicts(slow)
    assert all(t.complete and t.checked == t.size for t in fast.tensors)
