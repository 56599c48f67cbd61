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
    result = cli("report", tmp_path / "exits.npz", "--trust", "--batch", tmp_path / "batch.npz", cwd=tmp_path)
    assert result.returncode == 2, result
    assert "sys.exit(0)" in result.stderr and result.stdout == ""


# -- models checked in place (they cannot be copied) are restored completely --------------------------------
class LockedDense:
    """A layer that cannot be deep-copied (it holds a lock), with float32 weights and a forward cache."""

    def __init__(self, n_in, n_out, seed):
        import threading

        rng = np.random.default_rng(seed)
        self.lock = threading.Lock()
        self.W = rng.standard_normal((n_in, n_out)).astype(np.float32)
        self.b = np.zeros(n_out, dtype=np.float32)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        self.dW = self.x.T @ grad  # a new attribute, created by the kit's calls
        self.db = grad.sum(axis=0)
        return grad @ self.W.T


class LockedSoftmaxCrossEntropy:
    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.calls = 0

    def forward(self, x, y):
        self.calls += 1  # a counter the kit's calls move
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.p, self.y = e / e.sum(axis=1, keepdims=True), y
        return float(-np.mean(np.log(self.p[np.arange(len(y)), y])))

    def backward(self):
        d = self.p.copy()
        d[np.arange(len(self.y)), self.y] -= 1
        return d / len(self.y)


def everything(obj):
    """Every attribute of every object in a model: (object id, name) -> (value id, bytes or repr)."""
    out = {}
    for node in obj if isinstance(obj, list) else [obj]:
        for key, value in vars(node).items():
            kept = value.tobytes() + str(value.dtype).encode() if isinstance(value, np.ndarray) else repr(value)
            out[(id(node), key)] = (id(value), kept)
    return out


@pytest.mark.parametrize("labels_ok", [True, False])
def test_an_uncopyable_layer_list_is_checked_in_place_and_restored_completely(labels_ok):
    layers = [LockedDense(4, 5, 0), LockedDense(5, 3, 1), LockedSoftmaxCrossEntropy()]
    X, y = data(B=8, D=4, K=3)
    if not labels_ok:
        y = y + 10  # labels out of range: reading the model fails after the working arrays were bound
    before = everything(layers)
    if labels_ok:
        report = gk.diagnose(layers, (X, y), progress=False)
        assert any("could not be deep-copied" in n for n in report.notes)
    else:
        with pytest.raises(gk.InputError):
            gk.diagnose(layers, (X, y), progress=False)
    assert everything(layers) == before


class InPlaceTrainer:
    """A self-training object that cannot be copied, with a batch-norm running mean, an optimizer buffer
    that grows, a step counter and gradients it leaves on itself."""

    def __init__(self):
        import threading

        rng = np.random.default_rng(0)
        self.lock = threading.Lock()
        self.W = rng.standard_normal((4, 3)) * 0.5
        self.b = np.zeros(3)
        self.running_mean = np.zeros(4)
        self.history = {}
        self.t = 0

    def forward(self, X):
        self.running_mean *= 0.9
        self.running_mean += 0.1 * X.mean(axis=0)
        z = X @ self.W + self.b
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def train(self, X, y, lr):
        p = self.forward(X)
        d = p.copy()
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        self.dW, self.db = X.T @ d, d.sum(axis=0)
        self.t += 1
        self.history[self.t] = float(np.abs(self.dW).sum())
        self.W -= lr * self.dW
        self.b -= lr * self.db


def test_a_self_training_object_checked_in_place_keeps_every_attribute():
    model = InPlaceTrainer()
    X, y = data(B=8, D=4, K=3)
    before = everything(model)
    history = dict(model.history)
    gk.diagnose(model, (X, y), lr=0.1, progress=False)
    assert everything(model) == before
    assert model.history == history and model.t == 0 and not hasattr(model, "dW")


# -- threads ------------------------------------------------------------------------------------------------
def test_diagnose_from_several_threads_gives_the_serial_results():
    from concurrent.futures import ThreadPoolExecutor

    cases = [(models.MLP(), data()), (models.SoftmaxDerivativeAppliedTwice(), data()),
             (models.GradientSummedNotAveraged(), data())] * 2

    def codes(case):
        report = gk.diagnose(case[0], case[1], progress=False)
        return report.codes(), [(t.param, t.verdict, t.max_rel_error) for t in report.tensors]

    serial = [codes(case) for case in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(codes, cases))
    assert threaded == serial


def test_another_threads_random_numbers_are_never_rewound():
    import threading

    drawn: list[float] = []
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            drawn.append(float(np.random.random()))

    worker = threading.Thread(target=draw)
    worker.start()
    try:
        for _ in range(3):
            gk.diagnose(models.MLP(), data(), progress=False)
    finally:
        stop.set()
        worker.join()
    assert len(drawn) > 100 and len(set(drawn)) == len(drawn)  # a rewind would draw the same numbers again


# -- SIGTERM during a check of a model checked in place, its weights a memmap on disk ----------------------------
SIGTERM_SCRIPT = r"""
import os, signal, sys, threading
import numpy as np
sys.path.insert(0, {root!r})
import gradcheck_kit as gk

class OnDisk:
    def __init__(self, path):
        self.lock = threading.Lock()  # cannot be copied: checked in place
        self._store = np.memmap(path, dtype=np.float64, mode="r+", shape=(4, 3))
        self.calls = 0
    @property
    def params(self):  # built on every access: the kit perturbs the memmap itself, in place
        return {{"W": self._store}}
    def forward(self, X):
        return X @ self.params["W"]
    def loss(self, X, y):
        self.calls += 1
        if self.calls == 40:
            os.kill(os.getpid(), signal.SIGTERM)
        z = self.forward(X)
        return float(np.mean((z - y) ** 2))
    def backward(self, X, y):
        return {{"W": 2 * X.T @ (self.forward(X) - y) / y.size}}

rng = np.random.default_rng(0)
gk.diagnose(OnDisk({path!r}), (rng.standard_normal((8, 4)), rng.standard_normal((8, 3))), exhaustive=True,
            progress=False)
print("survived")
"""


def test_sigterm_restores_weights_on_disk_before_the_process_ends(tmp_path):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "W.bin"
    weights = np.arange(12, dtype=np.float64).reshape(4, 3) / 7
    weights.tofile(path)
    script = SIGTERM_SCRIPT.format(root=str(Path(__file__).resolve().parent.parent), path=str(path))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGTERM, (result.returncode, result.stderr[-2000:])
    assert "survived" not in result.stdout
    assert np.fromfile(path).tobytes() == weights.tobytes()


# -- odd models and inputs end in the kit's own errors (or a report), never a raw exception --------------------
class GetattrRaisesKeyError(models.MLP):
    def __getattr__(self, name):
        raise KeyError(name)


class MatrixParameters(models.MLP):
    def __init__(self):
        super().__init__()
        self.params = {k: np.matrix(v) if v.ndim == 2 else v for k, v in self.params.items()}


class BatchWhoseXRaises:
    y = np.zeros(4)

    @property
    def X(self):
        raise RuntimeError("the data loader failed")


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # numpy's note on creating a matrix
@pytest.mark.parametrize(("make", "batch", "error", "match"), [
    (GetattrRaisesKeyError, data, gk.ModelInterfaceError, r"__getattr__ raised KeyError .* expected AttributeError"),
    (MatrixParameters, data, gk.ModelInterfaceError, r"numpy\.matrix"),
    (models.MLP, BatchWhoseXRaises, gk.InputError, r"batch\.X / batch\.y raised RuntimeError"),
], ids=["getattr-keyerror", "np-matrix", "batch-property-raises"])
def test_odd_objects_get_one_clear_error_of_the_kits_own(make, batch, error, match):
    with pytest.raises(error, match=match):
        gk.diagnose(make(), batch(), progress=False)


def test_numpy_set_to_raise_on_overflow_does_not_break_the_kits_arithmetic():
    X, y = data()
    old = np.seterr(all="raise")
    try:
        report = gk.diagnose(models.MLP(), (X * 1e200, y), progress=False)
    except gk.GradcheckError:
        report = None  # a clear error of the kit's own is acceptable; a FloatingPointError is not
    finally:
        np.seterr(**old)
    assert report is None or report.complete


def test_the_models_own_code_still_runs_with_the_callers_numpy_error_settings():
    class Overflows(models.MLP):
        def loss(self, X, y):
            np.exp(np.array([1000.0]))  # raises FloatingPointError under np.seterr(over="raise")
            return super().loss(X, y)

    old = np.seterr(over="raise")
    try:
        with pytest.raises(gk.ModelCallError, match="FloatingPointError"):
            gk.diagnose(Overflows(), data(), progress=False)
    finally:
        np.seterr(**old)


# -- wrong verdicts ------------------------------------------------------------------------------------------
class ConstantLoss(models.MLP):
    """The loss does not depend on the parameters at all, while backward returns a normal gradient."""

    def loss(self, X, y):
        return 1.0


class FlatBuffer(models.MLP):
    """Parameters are views into one flat vector, and the forward pass reads the flat vector."""

    def __init__(self):
        super().__init__()
        self.shapes = {k: v.shape for k, v in self.params.items()}
        self.flat = np.concatenate([v.ravel() for v in self.params.values()])
        self.params = self._views()

    def _views(self):
        views, i = {}, 0
        for k, shape in self.shapes.items():
            n = int(np.prod(shape))
            views[k] = self.flat[i:i + n].reshape(shape)
            i += n
        return views

    def _forward(self, X):
        saved, self.params = self.params, self._views()
        try:
            return super()._forward(X)
        finally:
            self.params = saved


class Float32ParamsProperty(models.MLP):
    """float32 weights behind a property that builds a fresh dict on every access."""

    def __init__(self):
        built = models.MLP()
        self.__dict__.update({k: v for k, v in built.__dict__.items() if k != "params"})
        self._store = {k: v.astype(np.float32) for k, v in built.params.items()}

    @property
    def params(self):
        return dict(self._store)


def test_a_gradient_on_which_the_loss_does_not_depend_never_passes():
    report = gk.diagnose(ConstantLoss(), data(), progress=False)
    assert not report.ok and "gradient-mismatch" in report.codes(), report


@pytest.mark.parametrize("cls", [FlatBuffer, Float32ParamsProperty])
def test_correct_models_with_unusual_parameter_storage_pass(cls):
    model = cls()
    report = gk.diagnose(model, data(), progress=False)
    assert report.ok, report
