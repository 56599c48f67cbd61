"""The README shows real output: its blocks for the question's example must match what the example prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def text_blocks(markdown: str, after: str, count: int) -> list[str]:
    start = markdown.index(after)
    return re.findall(r"```text\n(.*?)```", markdown[start:], flags=re.S)[:count]


@pytest.fixture(scope="module")
def demo_output():
    from examples.softmax_question import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        main()
    return buffer.getvalue()


def test_question_blocks_in_the_readme_are_what_the_example_prints(demo_output):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown, findings = text_blocks(readme, "## The question, reproduced", 2)
    printed = [line.rstrip() for line in demo_output.splitlines()]
    for line in shown.splitlines() + findings.splitlines():
        if line.startswith(("[…", "label-collapse (error)")):
            continue  # the README's own marker for the abbreviated findings table
        assert line.rstrip() in printed, f"README line not in the example's output: {line!r}"


def test_every_finding_code_is_documented():
    import gradcheck_kit as gk

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in gk.codes:
        assert f"| `{code}` |" in readme, code


def test_every_cli_option_is_in_the_synopsis():
    from gradcheck_kit.cli import _parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    synopsis = readme[readme.index("## Command line"):readme.index("## In your tests")]
    report = next(a for a in _parser()._subparsers._group_actions[0].choices.items() if a[0] == "report")[1]
    for action in report._actions:
        long = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
        for option in long:
            assert option in synopsis, option
