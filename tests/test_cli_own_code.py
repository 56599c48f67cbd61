"""The command line on a user's own code, in the user's own folder, as a new user runs it.

The code lives in ``mynets.py`` next to the files, never on the test's import path: each command runs in
a child process from that folder, through the installed console script (``gradcheck-kit``) and through
``python -m gradcheck_kit``, which the README calls the same command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

MYNETS = textwrap.dedent('''
    """A user's module: a tanh MLP class, and layer objects built into a list by a function."""
    import numpy as np


    class TanhMLP:
        def __init__(self, sizes=(4, 6, 3), seed=0):
            rng = np.random.default_rng(seed)
            self.sizes = list(sizes)
            self.W1 = rng.normal(0, 0.5, (sizes[0], sizes[1]))
            self.b1 = np.zeros(sizes[1])
            self.W2 = rng.normal(0, 0.5, (sizes[1], sizes[2]))
            self.b2 = np.zeros(sizes[2])

        def forward(self, X):
            self.h = np.tanh(X @ self.W1 + self.b1)
            z = self.h @ self.W2 + self.b2
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

        def loss(self, X, y):
            p = self.forward(X)
            return -np.mean(np.log(p[np.arange(len(y)), y]))

        def backward(self, X, y):
            p = self.forward(X)
            d = p.copy()
            d[np.arange(len(y)), y] -= 1
            d /= len(y)
            dh = (d @ self.W2.T) * (1 - self.h ** 2)
            return {"W2": self.h.T @ d, "b2": d.sum(0), "W1": X.T @ dh, "b1": dh.sum(0)}


    class Dense:
        def __init__(self, n_in, n_out, seed):
            self.W = np.random.default_rng(seed).normal(0, 0.5, (n_in, n_out))
            self.b = np.zeros(n_out)

        def forward(self, x):
            self.x = x
            return x @ self.W + self.b

        def backward(self, dout):
            self.dW = self.x.T @ dout
            self.db = dout.sum(0)
            return dout @ self.W.T


    class Tanh:
        def forward(self, x):
            self.out = np.tanh(x)
            return self.out

        def backward(self, dout):
            return dout * (1 - self.out ** 2){tanh_bug}


    class SoftmaxCrossEntropy:
        def forward(self, x, y):
            e = np.exp(x - x.max(axis=1, keepdims=True))
            self.p, self.y = e / e.sum(axis=1, keepdims=True), y
            return -np.mean(np.log(self.p[np.arange(len(y)), y]))

        def backward(self):
            d = self.p.copy()
            d[np.arange(len(self.y)), self.y] -= 1
            return d / len(self.y)


    def make_layers(n_in=4, hidden=6, n_out=3):
        return [Dense(n_in, hidden, 1), Tanh(), Dense(hidden, n_out, 2), SoftmaxCrossEntropy()]
''')


def console_script():
    found = shutil.which("gradcheck-kit", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("the gradcheck-kit console script is not installed next to this Python")
    return found


def run(cwd, *args, module=False):
    """The command from ``cwd`` as a user types it; the kit's source tree comes from the environment's
    install, or PYTHONPATH=ROOT for a checkout that is not installed (never the user's folder)."""
    command = [sys.executable, "-m", "gradcheck_kit", *args] if module else [console_script(), *args]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if not module:
        env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def python(cwd, code):
    """A user's script, run from their folder (so ``import mynets`` works there as it does for them)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "mynets.py").write_text(MYNETS.replace("{tanh_bug}", ""))
    python(tmp_path, """
        import numpy as np
        import gradcheck_kit as gk
        from gradcheck_kit.io import save_batch, save_model
        from mynets import TanhMLP, make_layers

        rng = np.random.default_rng(0)
        save_batch("batch.npz", rng.normal(size=(8, 4)), rng.integers(0, 3, 8))
        save_model(TanhMLP(), "good.npz")
        save_model(make_layers(), "layers.npz", factory="mynets:make_layers")
        save_model(gk.layered(make_layers()), "layered.npz", factory="mynets.py:make_layers")
    """)
    return tmp_path


@pytest.mark.parametrize("module", [False, True], ids=["console-script", "python-m"])
def test_a_model_whose_code_is_in_the_current_folder(folder, module):
    r = run(folder, "report", "good.npz", "--trust", "--batch", "batch.npz", module=module)
    assert r.returncode == 0, r.stderr
    assert r.stdout.lstrip().startswith("OK") or "OK:" in r.stdout


def test_a_module_that_is_nowhere_says_where_it_looked_and_what_to_do(folder, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    r = run(elsewhere, "report", str(folder / "good.npz"), "--trust", "--batch", str(folder / "batch.npz"))
    assert r.returncode == 2
    line = r.stderr.strip()
    assert "\n" not in line
    assert "no module 'mynets'" in line and str(elsewhere) in line
    assert "PYTHONPATH" in line and "'path/to/mynets.py:TanhMLP'" in line


def test_a_file_in_the_current_folder_never_shadows_an_installed_package(folder):
    (folder / "rich.py").write_text("raise SystemExit('the user folder shadowed an installed package')\n")
    r = run(folder, "report", "good.npz", "--trust", "--batch", "batch.npz")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("spec", ["layers.npz --trust", "mynets:make_layers --weights layers.npz",
                                  "mynets.py:make_layers --weights layers.npz", "layered.npz --trust"])
def test_a_list_of_layers_from_the_command_line(folder, spec):
    r = run(folder, "report", *spec.split(), "--batch", "batch.npz")
    assert r.returncode == 0, r.stderr + r.stdout


def test_a_wrong_layer_is_found_from_the_command_line(folder):
    (folder / "mynets.py").write_text(MYNETS.replace("{tanh_bug}", " * 2"))  # the code changed, the weights did not
    r = run(folder, "report", "mynets:make_layers", "--weights", "layers.npz", "--batch", "batch.npz")
    assert r.returncode == 1, r.stderr
    assert "Tanh" in r.stdout


def test_saved_layers_come_back_with_their_weights(folder):
    out = python(folder, """
        import numpy as np
        from gradcheck_kit.io import load_model, model_metadata, save_model
        from mynets import make_layers

        trained = make_layers()
        trained[0].W += 1.0  # not what the factory builds: the file's weights must be the ones loaded
        trained[2].b -= 0.5
        save_model(trained, "trained.npz", factory="mynets:make_layers")
        print(model_metadata("trained.npz")["params"])
        loaded = load_model(factory="mynets:make_layers", weights="trained.npz")
        print(all(np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
                  for a, b in zip(trained, loaded) if hasattr(a, "W")))
        print(np.array_equal(loaded[0].W, make_layers()[0].W))
    """)
    names, same, fresh = out.strip().splitlines()
    assert names == "['[0].W', '[0].b', '[2].W', '[2].b']"
    assert (same, fresh) == ("True", "False")


def test_a_list_without_a_factory_says_to_name_one(folder):
    out = python(folder, """
        import gradcheck_kit as gk
        from gradcheck_kit.io import save_model
        from mynets import make_layers

        for model in (make_layers(), gk.layered(make_layers())):
            try:
                save_model(model, "x.npz")
            except gk.InputError as exc:
                print(exc)
    """)
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("save_model: a list of layers has no class of its own")
    assert lines[1].startswith("save_model: gk.layered(...) has no class of its own")
    assert all("factory='path/to/file.py:make_net'" in line for line in lines)
    assert not (folder / "x.npz").exists()
    assert np.load(folder / "layers.npz").files  # the earlier file is intact
