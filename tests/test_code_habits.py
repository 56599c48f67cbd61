"""Habits of the package's own code, checked: small functions, stages that keep to their rooms, options
written once. (Layering and import cycles are checked by import-linter in CI.)"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import gradcheck_kit as gk
from gradcheck_kit.settings import option_fields

PACKAGE = Path(gk.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))
STAGES = ("model", "numeric", "measure", "checks", "report")
MAX_FUNCTION_LINES = 60


def code_lines(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of code in a function: no docstring, blank or comment-only lines."""
    first = node.body[0]
    doc = (first.lineno, first.end_lineno) if (
        isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    ) else (0, -1)
    return sum(1 for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)
               if not doc[0] <= n <= doc[1] and lines[n - 1].strip() and not lines[n - 1].strip().startswith("#"))


def functions():
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, node, text.splitlines()


def test_no_function_is_longer_than_sixty_lines_of_code():
    long = [f"{p.relative_to(PACKAGE)}:{n.lineno} {n.name} ({code_lines(lines, n)})"
            for p, n, lines in functions() if code_lines(lines, n) > MAX_FUNCTION_LINES]
    assert not long, long


def test_the_line_counter_counts_code_only():
    source = 'def f():\n    """Doc.\n\n    More."""\n    # a comment\n\n    x = 1\n    return x\n'
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert code_lines(source.splitlines(), node) == 3


def test_only_the_model_stage_touches_private_members_of_other_objects():
    found = []
    for path in SOURCES:
        if path.parent.name == "model":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {ast.unparse(node)}")
    assert not found, found


def test_diagnose_takes_exactly_the_settings_options_with_the_same_defaults():
    parameters = list(inspect.signature(gk.diagnose).parameters.values())[2:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
    assert [(p.name, p.default) for p in parameters] == [(f.name, f.default) for f in option_fields()]
    for f in option_fields():
        assert f"\n{f.name}\n    " in (gk.diagnose.__doc__ or ""), f.name  # numpydoc: names at the margin


def test_every_cli_flag_of_an_option_comes_from_settings():
    from gradcheck_kit.cli import _parser

    report = _parser()._subparsers._group_actions[0].choices["report"]  # type: ignore[union-attr]
    dests = {a.dest: a for a in report._actions}
    for f in option_fields():
        flag = f.metadata["option"].flag
        if flag is not None:
            assert flag in dests[f.name].option_strings
            assert dests[f.name].help.startswith(f.metadata["option"].help)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_says_what_it_holds_and_may_import(stage):
    doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert "stage" in doc.lower() and "May import" in doc, stage


def test_no_stage_module_is_loose_at_the_top():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == {"__init__", "__main__", "cli", "errors", "io", "pytest_plugin", "run", "settings", "testing"}
