"""A report as a notebook cell's value: self-contained HTML with a plain-text fallback."""

from __future__ import annotations

import re
import sys

import pytest

import gradcheck_kit as gk
from tests import models
from tests.models import data


@pytest.fixture(scope="module")
def doubled():
    return gk.diagnose(models.SoftmaxDerivativeAppliedTwice(), data())


def test_bundle_has_the_table_findings_and_verdict_as_html_and_text(doubled):
    bundle = doubled._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    html, text = bundle["text/html"], bundle["text/plain"]
    for expected in ("Gradient check — SoftmaxDerivativeAppliedTwice", "W3", "b1", "Findings",
                     "doubled-softmax-derivative", doubled.verdict):
        assert expected in html
        assert expected in text
    assert text == str(doubled)
    assert doubled._repr_html_() == html
    # the full table (worst entry and shape columns), not the narrow one
    assert "worst at" in html and "shape" in html
    # verdict and failing rows are styled inline
    assert re.search(r'<span style="[^"]*color: #[0-9a-f]{6}[^"]*">FAIL: ', html)


def test_html_is_self_contained(doubled):
    html = doubled._repr_html_().lower()
    for external in ("<script", "<style", "<link", "<iframe", "src=", "href=", "@import", "url("):
        assert external not in html
    assert html.startswith("<div") and html.endswith("</div>")


def test_user_strings_are_escaped():
    Injecting = type("<script>alert(1)</script>", (models.SoftmaxDerivativeAppliedTwice,), {})
    report = gk.diagnose(Injecting(), data())
    assert report.model == "<script>alert(1)</script>"
    html = report._repr_html_()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_rendering_is_not_imported_with_the_data():
    import subprocess

    code = ("import gradcheck_kit.report.data, sys; "
            "print(sorted(m for m in ('rich', 'rich.console', 'gradcheck_kit.report.html') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
