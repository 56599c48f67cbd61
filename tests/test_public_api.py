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


def test_no_submodule_shadows_a_public_name():
    """Importing a submodule binds it on the package: one named like a public function would replace it
    (``gk.diagnose`` a module after ``assert_gradients_ok`` imported the run, "'module' object is not
    callable"). In a fresh interpreter, every submodule is imported first, then every public name read."""
    import pkgutil
    import subprocess
    import sys

    package = Path(gk.__file__).parent
    clashes = {m.name for m in pkgutil.iter_modules([str(package)])} & set(gk.__all__)
    assert not clashes, f"submodules named like public names: {sorted(clashes)}"
    code = ("import importlib, pkgutil, gradcheck_kit as gk\n"
            "for m in pkgutil.iter_modules(gk.__path__):  # __main__ would run the command line\n"
            "    if m.name == '__main__': continue\n"
            "    importlib.import_module('gradcheck_kit.' + m.name)\n"
            "print(callable(gk.diagnose), callable(gk.assert_gradients_ok), callable(gk.wrap))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(package.parent))
    assert out.stdout.split() == ["True", "True", "True"], out.stderr
