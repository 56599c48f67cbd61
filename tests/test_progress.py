"""When the progress bar is on by default: a terminal, or a Jupyter kernel (drawn there as a cell output;
see test_notebook.py for a real kernel)."""

from __future__ import annotations

import io
import sys
import types

import pytest

from gradcheck_kit.report.progress import ProgressBar, in_notebook


class ZMQInteractiveShell:  # the class name IPython's kernel shell has
    pass


class ColabShell(ZMQInteractiveShell):
    pass


class TerminalInteractiveShell:
    pass


@pytest.fixture
def not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())


def fake_ipython(monkeypatch, shell):
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))


@pytest.mark.parametrize("shell", [ZMQInteractiveShell(), ColabShell()])
def test_on_by_default_in_a_notebook_kernel(monkeypatch, not_a_terminal, shell):
    fake_ipython(monkeypatch, shell)
    assert in_notebook()
    assert ProgressBar(10).enabled
    assert not ProgressBar(10, enabled=False).enabled


@pytest.mark.parametrize("shell", [None, TerminalInteractiveShell()])
def test_off_by_default_off_a_terminal_and_outside_a_kernel(monkeypatch, not_a_terminal, shell):
    fake_ipython(monkeypatch, shell)
    assert not in_notebook()
    assert not ProgressBar(10).enabled
    monkeypatch.delitem(sys.modules, "IPython")
    assert not in_notebook() and not ProgressBar(10).enabled
