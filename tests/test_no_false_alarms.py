"""Numerical honesty: a family of correct random networks (random depths, widths, activations, dtypes,
batch sizes, regularisation, model styles) gives zero error findings — a false alarm is as bad as a
miss — and the same family with one seeded defect each has the defect found at the right layer."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from tests import layers_models as L
from tests import models
from tests.models import clusters

FAMILY = 200
ACTIVATIONS = {"tanh": L.Tanh, "sigmoid": L.Sigmoid, "relu": L.ReLU}


def spec(seed):
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 5))
    D, K = int(rng.integers(2, 9)), int(rng.integers(2, 6))
    sizes = (D, *[int(rng.integers(2, 14)) for _ in range(depth - 1)], K)
    return {
        "sizes": sizes,
        "activation": str(rng.choice(list(ACTIVATIONS))),
        "dtype": np.float32 if rng.random() < 0.3 else np.float64,
        "reg": float(rng.choice([0.0, 0.0, 1e-3, 0.1])),
        "B": int(rng.choice([1, 2, 5, 16, 40])),
        "style": str(rng.choice(["object", "object", "layers", "functions"])),
        "lr": float(rng.choice([0.01, 0.05])),
    }


def build(s, seed, cls=models.MLP):
    mlp = cls(
        s["sizes"],
        activation=s["activation"],
        dtype=s["dtype"],
        seed=seed,
        reg=s["reg"] if s["style"] != "layers" else 0.0,
    )
    if s["style"] == "layers" and cls is models.MLP:
        layers = []
        for i, (m, n) in enumerate(zip(s["sizes"][:-1], s["sizes"][1:])):
            dense = L.Dense(m, n, seed=seed + i)
            dense.parameters = {"W": mlp.params[f"W{i + 1}"], "b": mlp.params[f"b{i + 1}"]}
            layers += [dense, ACTIVATIONS[s["activation"]]()]
        return [*layers[:-1], L.SoftmaxCrossEntropy()]
    if s["style"] == "functions" and cls is models.MLP:
        return models.as_functions(mlp)
    return mlp


def label(s):
    dtype = np.dtype(s["dtype"]).name
    return f"{s['style']} {s['sizes']} {s['activation']} {dtype} reg={s['reg']} B={s['B']} lr={s['lr']}"


@pytest.mark.parametrize("seed", range(FAMILY))
def test_correct_random_network_has_no_error(seed):
    s = spec(seed)
    X, y = clusters(B=s["B"], D=s["sizes"][0], K=s["sizes"][-1], seed=seed)
    report = gk.diagnose(build(s, seed), (X, y), lr=s["lr"])
    assert report.ok, f"{label(s)}\n{report}"


def defect_for(s, seed):
    """One defect that this network can show, with the finding code and layer expected."""
    depth = len(s["sizes"]) - 1
    options = [
        ("sign-flipped", models.GradientSignFlippedInOutputLayer, str(depth)),
        ("doubled-softmax-derivative", models.SoftmaxDerivativeAppliedTwice, str(depth)),
    ]
    if s["B"] > 1:
        options.append(("missing-batch-average", models.GradientSummedNotAveraged, str(depth)))
    if depth >= 3:  # the defect drops the activation derivative of hidden layer 2
        options.append(("gradient-mismatch", models.ActivationDerivativeMissingInLayer2, "2"))
    if s["reg"] > 0:
        options.append(("weight-decay-mismatch", models.RegularisationGradientForgotten, None))
    return options[seed % len(options)]


@pytest.mark.parametrize("seed", range(FAMILY))
def test_seeded_defect_is_found(seed):
    s = {**spec(seed), "style": "object", "dtype": np.float64}
    code, cls, layer = defect_for(s, seed)
    X, y = clusters(B=s["B"], D=s["sizes"][0], K=s["sizes"][-1], seed=seed)
    report = gk.diagnose(build(s, seed, cls), (X, y))
    assert not report.ok, label(s)
    found = [(f.code, f.layer) for f in report.findings]
    assert any(c == code and (layer is None or f_layer == layer) for c, f_layer in found), f"{label(s)}: {found}"


class Dense32WithGradsDict:
    """A float32 layer whose optimizer-facing ``grads`` dict holds the very ``dW``/``db`` arrays its backward
    fills in place (those are caches the kit leaves out, and the alias must keep working)."""

    def __init__(self, n_in, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.W = (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        self.b = (0.1 * rng.normal(size=n_out)).astype(np.float32)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        self.grads = {"dW": self.dW, "db": self.db}

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW[...] = self.x.T @ dout
        self.db[...] = dout.sum(0)
        return dout @ self.W.T


def test_a_float32_layer_whose_grads_dict_aliases_its_gradient_buffers_is_ok():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(8, 4)).astype(np.float32), rng.integers(0, 3, 8)
    report = gk.diagnose([Dense32WithGradsDict(4, 3), L.Softmax(), L.CrossEntropy()], (X, y), progress=False)
    assert report.ok, report
