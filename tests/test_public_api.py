"""The public surface: sorted, importable, typed."""

from __future__ import annotations

from pathlib import Path

import gradcheck_kit as gk


def test_all_is_sorted_and_importable():
    assert gk.__all__ == sorted(gk.__all__)
    for name in gk.__all__:
        assert hasattr(gk, name), name


def test_py_typed_marker_ships():
    assert (Path(gk.__file__).parent / "py.typed").exists()


def test_errors_share_one_root_and_are_value_errors():
    for cls in (gk.InputError, gk.ModelInterfaceError):
        assert issubclass(cls, gk.GradcheckError) and issubclass(cls, ValueError)
    assert issubclass(gk.ModelCallError, gk.GradcheckError)
