"""A model file is code (issue 12, item 6): loading one imports nothing the user has not named.

Each hostile file records a factory that did run on ``load_model`` or ``gradcheck-kit report`` before:
``os:system`` with ``["touch PWNED"]``, ``builtins:exec``, ``sys:exit``, a ``/path/file.py:X``. By
default each is refused with a message naming the recorded factory and how to allow it, and nothing is
imported; the modules that run commands or code are refused even when trusted; a trusted file saved by
the kit gives the live model's report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.io import load_model, model_metadata, resolve_factory, save_batch, save_model
from tests import models
from tests.models import data

ROOT = Path(__file__).resolve().parent.parent


def record(source: Path, target: Path, factory: str, args=(), kwargs=None) -> Path:
    """A copy of the model file ``source`` recording ``factory(*args, **kwargs)``."""
    with np.load(source, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["__gradcheck_kit__"]))
    meta.update(factory=factory, args=list(args), kwargs=kwargs or {})
    arrays["__gradcheck_kit__"] = np.array(json.dumps(meta))
    np.savez(target, **arrays)
    return target


@pytest.fixture
def files(tmp_path):
    X, y = data()
    save_model(models.MLP(), tmp_path / "model.npz")
    save_batch(tmp_path / "batch.npz", X, y)
    # a Python file that leaves a mark when it is imported, and names a harmless factory
    (tmp_path / "evil.py").write_text(
        "from pathlib import Path\n"
        "Path(__file__).with_name('IMPORTED').write_text('evil.py ran')\n"
        "from tests.models import MLP as Net\n"
    )
    model = tmp_path / "model.npz"
    record(model, tmp_path / "os_system.npz", "os:system", ["touch PWNED"])
    record(model, tmp_path / "exec.npz", "builtins:exec", ["open('PWNED', 'w').write('exec ran')"])
    record(model, tmp_path / "eval.npz", "builtins:eval", ["__import__('os').system('touch PWNED')"])
    record(model, tmp_path / "sys_exit.npz", "sys:exit", [7])
    record(model, tmp_path / "subprocess.npz", "subprocess:run", [["touch", "PWNED"]])
    record(model, tmp_path / "path_file.npz", f"{tmp_path / 'evil.py'}:Net")
    return tmp_path


def left_a_mark(d: Path) -> bool:
    return (d / "PWNED").exists() or (d / "IMPORTED").exists()


def cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gradcheck_kit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


#: Files recording a factory that runs commands or code: refused whether trusted or not.
REFUSED = {
    "os_system.npz": "os:system",
    "exec.npz": "builtins:exec",
    "eval.npz": "builtins:eval",
    "sys_exit.npz": "sys:exit",
    "subprocess.npz": "subprocess:run",
}
#: Files recording an ordinary factory: refused unless trusted.
UNTRUSTED = {"path_file.npz": "evil.py:Net", "model.npz": "tests.models:MLP"}


@pytest.mark.parametrize("name", sorted(UNTRUSTED))
def test_load_model_refuses_the_recorded_factory_by_default(files, name, monkeypatch):
    monkeypatch.chdir(files)
    with pytest.raises(gk.InputError) as info:
        load_model(files / name)
    message = str(info.value)
    assert "records the factory" in message and UNTRUSTED[name] in message
    assert "refused, because a model file is code, not data" in message
    assert "trusted=[" in message and "trusted=True" in message and "load_model(factory=" in message
    assert not left_a_mark(files)


@pytest.mark.parametrize("name", sorted(UNTRUSTED))
def test_the_command_refuses_the_recorded_factory_without_trust(files, name):
    r = cli("report", name, "--batch", "batch.npz", cwd=files)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr and r.stdout == ""
    assert UNTRUSTED[name] in lines[0] and "add --trust" in lines[0]
    assert f"--weights {name} --batch batch.npz" in lines[0]  # the command that names the code instead
    assert not left_a_mark(files)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_commands_and_code_are_refused_trusted_or_not(files, name, monkeypatch):
    monkeypatch.chdir(files)
    for trusted in (False, True, [REFUSED[name]]):
        expected = f"model '.*{name}' records the factory '{REFUSED[name]}', which names .* refused always, even when"
        with pytest.raises(gk.InputError, match=expected):
            load_model(files / name, trusted=trusted)
    for trust in ([], ["--trust"]):
        r = cli("report", name, *trust, "--batch", "batch.npz", cwd=files)
        assert r.returncode == 2 and "refused always, even when trusted" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""
    assert not left_a_mark(files)


def test_a_trusted_path_file_factory_runs(files):
    """Trust means running the code: the file the model names is imported, as the user allowed."""
    model = load_model(files / "path_file.npz", trusted=True)
    assert (files / "IMPORTED").exists()
    assert isinstance(model, models.MLP)


def test_a_list_of_trusted_names_allows_exactly_those(files):
    with pytest.raises(gk.InputError, match=r"records the factory 'tests\.models:MLP'"):
        load_model(files / "model.npz", trusted=["tests.models:CS231nNet"])
    assert isinstance(load_model(files / "model.npz", trusted=["tests.models:MLP"]), models.MLP)
    assert isinstance(load_model(files / "model.npz", trusted="tests.models:MLP"), models.MLP)
    with pytest.raises(gk.InputError, match="trusted=1; expected True, False, or a list"):
        load_model(files / "model.npz", trusted=1)  # type: ignore[arg-type]


def test_naming_the_code_yourself_needs_no_trust(files):
    model = load_model(files / "model.npz", factory="tests.models:MLP")
    assert isinstance(model, models.MLP)
    model = load_model(factory="tests.models:MLP", weights=files / "model.npz")
    np.testing.assert_array_equal(model.params["W1"], load_model(files / "model.npz", trusted=True).params["W1"])


def test_a_trusted_model_gives_the_live_models_report(files):
    live = gk.diagnose(models.SoftmaxDerivativeAppliedTwice(), data()).to_dict()
    save_model(models.SoftmaxDerivativeAppliedTwice(), files / "bad.npz")
    loaded = gk.diagnose(load_model(files / "bad.npz", trusted=True), data()).to_dict()
    r = cli("report", "bad.npz", "--trust", "--batch", "batch.npz", "--format", "json", cwd=files)
    spec = cli("report", "tests.models:SoftmaxDerivativeAppliedTwice", "--weights", "bad.npz", "--batch", "batch.npz",
               "--format", "json", cwd=files)
    assert r.returncode == spec.returncode == 1, (r.stderr, spec.stderr)
    for d in (loaded, json.loads(r.stdout), json.loads(spec.stdout)):
        for key in ("ok", "findings", "params", "layers", "loss", "first_wrong_layer"):
            assert d[key] == live[key], key


def test_code_from_the_command_line_takes_the_files_constructor_arguments(files):
    """``report net.py:make_net --weights model.npz``: the recorded arguments are data, passed to the
    code the user named when it has the recorded callable's name."""
    save_model(models.MLP(sizes=(6, 5, 3)), files / "small.npz")
    r = cli("report", "tests.models:MLP", "--weights", "small.npz", "--batch", "batch.npz", "-q", cwd=files)
    assert r.returncode == 0 and r.stdout.startswith("OK: 4 parameter tensors"), r.stderr
    (files / "net.py").write_text("from tests.models import MLP\n\ndef make_net():\n    return MLP(sizes=(6, 5, 3))\n")
    r = cli("report", "net.py:make_net", "--weights", "small.npz", "--batch", "batch.npz", "-q", cwd=files)
    assert r.returncode == 0 and r.stdout.startswith("OK: 4 parameter tensors"), r.stderr


def test_model_metadata_shows_the_factory_without_importing_it(files):
    meta = model_metadata(files / "path_file.npz")
    assert meta["factory"] == f"{files / 'evil.py'}:Net" and meta["args"] == [] and meta["kwargs"] == {}
    assert not left_a_mark(files)


@pytest.mark.parametrize(
    ("source", "spec"),
    [
        ("from os import system as Net\n", "reexport.py:Net"),
        ("import functools, os\nNet = functools.partial(os.system, 'touch PWNED')\n", "reexport.py:Net"),
        ("import os\n", "reexport.py:os.system"),
        ("import subprocess\n", "reexport.py:subprocess.run"),
        ("Net = eval\n", "reexport.py:Net"),
        ("import numpy\nNet = numpy.load\n", "reexport.py:Net"),
    ],
)
def test_refused_callables_are_refused_under_any_name(tmp_path, monkeypatch, source, spec):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reexport.py").write_text(source)
    with pytest.raises(gk.InputError, match="refused always, even when trusted"):
        resolve_factory(spec)
    assert not (tmp_path / "PWNED").exists()


def test_ordinary_factories_are_not_refused(tmp_path, monkeypatch):
    """Classes, functions, classmethods and callable objects of the user's own code all resolve."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nets.py").write_text(
        "from tests.models import MLP\n\n"
        "class Net(MLP):\n"
        "    @classmethod\n"
        "    def small(cls):\n"
        "        return cls(sizes=(6, 4, 3))\n\n"
        "def make_net():\n"
        "    return Net()\n\n"
        "class Builder:\n"
        "    def __call__(self):\n"
        "        return Net()\n\n"
        "build = Builder()\n"
    )
    for spec in ("nets.py:Net", "nets.py:Net.small", "nets.py:make_net", "nets.py:build", "tests.models:MLP"):
        assert callable(resolve_factory(spec)), spec
    save_model(models.MLP(sizes=(6, 4, 3)), tmp_path / "small.npz")
    assert load_model(factory="nets.py:Net.small", weights=tmp_path / "small.npz").params["W1"].shape == (6, 4)


@pytest.mark.parametrize(
    "spec",
    ["os:system", "builtins:exec", "sys:exit", "subprocess:Popen", "shutil:rmtree", "importlib:import_module",
     "pickle:loads", "marshal:loads", "ctypes:CDLL", "runpy:run_path", "code:InteractiveConsole",
     "codeop:compile_command", "os.path:join", "numpy:load", "pandas:read_pickle", "antigravity:geohash",
     # reached through an allowed module
     "tests.models:np.load", "tests.models:np.lib.format.open_memmap", "tests.models:MLP.__class__",
     "tests.models:MLP.__init__.__globals__"],
)
def test_the_refused_modules(spec):
    with pytest.raises(gk.InputError, match="refused always"):
        resolve_factory(spec)


def test_save_model_refuses_a_refused_factory(tmp_path):
    with pytest.raises(gk.InputError, match="refused always"):
        save_model(models.MLP(), tmp_path / "m.npz", factory="os:system", args=["touch PWNED"])
    assert not (tmp_path / "m.npz").exists()
