"""Networks written the way public from-scratch code writes them (`tests/idioms`), read with no glue.

Every correct network must pass across kit seeds (a false alarm is the worst bug a diagnostics tool can
have); every seeded bug must fail at the right layer with its cause named; a bug the kit cannot see by
design must leave an OK report, never a crash. The cases and what they expect are in `idiom_cases`.
"""

from __future__ import annotations

import warnings

import pytest

import gradcheck_kit as gk
from tests.idiom_cases import CASES, Case

CORRECT = [c for c in CASES if c.expect is None and not c.unseen]
BUGS = [c for c in CASES if c.expect is not None]
UNSEEN = [c for c in CASES if c.unseen]


def run(case: Case, seed: int = 0) -> gk.Report:
    model, batch, options = case.build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a model's own RuntimeWarnings (overflow in exp) are not the point
        return gk.diagnose(model, batch, seed=seed, progress=False, **options)


def errors(report: gk.Report) -> set[str]:
    return {f.code for f in report.errors}


@pytest.mark.parametrize("case", CORRECT, ids=lambda c: c.id)
def test_correct_network_passes(case):
    report = run(case)
    assert report.ok, report
    if case.note:
        assert any(case.note in n for n in report.notes), report.notes


@pytest.mark.slow
@pytest.mark.parametrize("case", CORRECT, ids=lambda c: c.id)
def test_correct_network_passes_for_every_kit_seed(case):
    for seed in range(1, case.seeds):
        report = run(case, seed)
        assert report.ok, f"seed {seed}:\n{report}"


@pytest.mark.parametrize("case", BUGS, ids=lambda c: c.id)
def test_seeded_bug_fails_at_its_layer_with_its_cause(case):
    layer, codes = case.expect
    report = run(case)
    assert not report.ok, report
    assert (report.first_wrong_layer or "").startswith(layer), report
    assert set(codes) <= errors(report), report


@pytest.mark.parametrize("case", UNSEEN, ids=lambda c: c.id)
def test_bug_invisible_by_design_leaves_an_ok_report(case):
    report = run(case)
    assert report.ok, report
    if case.note:
        assert any(case.note in n for n in report.notes), report.notes


def test_every_idiom_has_a_correct_network_and_a_bug():
    idioms = {c.idiom for c in CASES}
    assert idioms == {c.idiom for c in CORRECT} == {c.idiom for c in BUGS}


def test_truncated_bptt_says_missing_only_when_the_gradients_are_smaller():
    by_id = {c.id: c for c in CASES}
    missing = run(by_id["char-rnn-no-dhnext"]).finding("truncated-backprop-through-time")
    wrong = run(by_id["char-rnn-dhnext-through-Whh-not-its-transpose"]).finding("truncated-backprop-through-time")
    assert missing is not None and wrong is not None
    assert missing.evidence["smaller"] and "what is missing are the terms" in missing.message
    assert not wrong.evidence["smaller"] and "missing or wrong" in wrong.message
