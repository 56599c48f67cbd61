"""Without matplotlib (the ``plot`` extra), `Report.plot` and ``--plot`` say which extra to install. Runs
with or without matplotlib installed: its import is made to fail."""

from __future__ import annotations

import sys

import pytest

import gradcheck_kit as gk
from tests import models
from tests.models import data


@pytest.fixture(scope="module")
def doubled():
    return gk.diagnose(models.SoftmaxDerivativeAppliedTwice(), data())


def test_missing_matplotlib_names_the_extra(doubled, monkeypatch, capsys, tmp_path):
    from gradcheck_kit.cli import main
    from gradcheck_kit.io import save_batch, save_model

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with pytest.raises(gk.MissingExtraError, match=r"pip install 'gradcheck_kit\[plot\]'") as info:
        doubled.plot()
    assert isinstance(info.value, ImportError)
    save_model(models.MLP(), tmp_path / "good.npz")
    save_batch(tmp_path / "batch.npz", *data())
    code = main(["report", str(tmp_path / "good.npz"), "--trust", "--batch", str(tmp_path / "batch.npz"),
                 "--plot", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert code == 2 and "--plot draws with matplotlib" in err and "gradcheck_kit[plot]" in err
    assert not (tmp_path / "out.png").exists()
