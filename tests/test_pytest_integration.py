"""assert_gradients_ok, the gradcheck fixture and parametrize_models, as a user's test suite sees them."""

from __future__ import annotations

import importlib.metadata
import textwrap

import pytest

import gradcheck_kit as gk
from gradcheck_kit.testing import parametrize_models
from tests import models
from tests.models import data

PLUGIN_INSTALLED = any(ep.name == "gradcheck_kit" for ep in importlib.metadata.entry_points(group="pytest11"))
PLUGIN_ARGS = () if PLUGIN_INSTALLED else ("-p", "gradcheck_kit.pytest_plugin")

USER_TESTS = textwrap.dedent('''
    import numpy as np
    from tests import models

    X = np.random.default_rng(1).normal(size=(16, 6))
    y = np.arange(16) % 3

    def test_correct(gradcheck):
        report = gradcheck(models.MLP(), (X, y))
        assert report.ok

    def test_buggy(gradcheck):
        model = models.SoftmaxDerivativeAppliedTwice()
        gradcheck(model, (X, y))  # the user's line
''')


def test_assert_gradients_ok_passes_and_returns_the_report():
    report = gk.assert_gradients_ok(models.MLP(), data())
    assert report.ok


def test_assert_gradients_ok_message_is_the_plain_findings_table():
    with pytest.raises(AssertionError) as info:
        gk.assert_gradients_ok(models.GradientSignFlippedInOutputLayer(), data())
    text = str(info.value)
    assert text.startswith("FAIL: ")
    assert text.count("FAIL: ") == 1  # the verdict once, not again at the end of the table
    assert "sign-flipped" in text and "gradient-mismatch" in text and "Fix:" in text
    assert "\x1b[" not in text


def test_fixture_failure_points_at_the_users_line(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(pytester.path.parent))
    pytester.syspathinsert(str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*PLUGIN_ARGS, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert ">       gradcheck(model, (X, y))  # the user's line" in out
    assert "doubled-softmax-derivative" in out and "Fix:" in out
    assert "testing.py" not in out and "pytest_plugin.py" not in out
    assert "\x1b[" not in out


def test_parametrize_models_gives_readable_ids(pytester):
    pytester.syspathinsert(str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    pytester.makepyfile(test_many=textwrap.dedent('''
        from gradcheck_kit.testing import parametrize_models
        from tests import models
        from tests.models import data

        @parametrize_models({"tanh": models.MLP(activation="tanh"), "relu": models.MLP(activation="relu")})
        def test_named(model, gradcheck):
            gradcheck(model, data())

        @parametrize_models([models.MLP(), models.MLP(), models.CS231nNet()])
        def test_by_class(model, gradcheck):
            gradcheck(model, data())
    '''))
    result = pytester.runpytest(*PLUGIN_ARGS, "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    out = result.stdout.str()
    for test_id in ("test_named[tanh]", "test_named[relu]", "test_by_class[MLP-0]", "test_by_class[MLP-1]",
                    "test_by_class[CS231nNet]"):
        assert test_id in out


def test_parametrize_models_directly():
    mark = parametrize_models([models.MLP()])
    assert mark.args[0] == "model" and mark.kwargs["ids"] == ["MLP"]


def test_plugin_import_is_cheap():
    import subprocess
    import sys

    code = ("import sys, gradcheck_kit.pytest_plugin; "
            "print(int(any(m in sys.modules for m in ('scipy', 'pandas', 'rich', 'gradcheck_kit.run'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert out.stdout.strip() == "0", out.stderr
