"""Promises under hostile models: user code that exits, threads, in-place checks, odd parameters. Each
trial is a minimal model written to break one promise (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.io import save_batch, save_model
from tests import models
from tests.conftest import assert_unchanged, snapshot
from tests.models import data
from tests.test_cli import run as cli


def test_user_code_calling_sys_exit_is_a_model_call_error():
    model = models.ExitsInBackward()
    before = snapshot(model)
    with pytest.raises(gk.ModelCallError, match=r"called sys\.exit\(0\)"):
        gk.diagnose(model, data())
    assert_unchanged(model, before)


def test_the_cli_never_passes_a_model_that_exits(tmp_path):
    save_model(models.ExitsInBackward(), tmp_path / "exits.npz")
    X, y = data()
    save_batch(tmp_path / "batch.npz", X, y)
    result = cli("report", tmp_path / "exits.npz", "--batch", tmp_path / "batch.npz", cwd=tmp_path)
    assert result.returncode == 2, result
    assert "sys.exit(0)" in result.stderr and result.stdout == ""
