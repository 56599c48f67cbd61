"""A family of correct random networks must give zero error findings (a false alarm is as bad as a miss),
and the same family with one seeded defect each must have the defect found."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from tests import models
from tests.models import clusters

FAMILY = 60


def random_network(seed):
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    D, K = int(rng.integers(2, 9)), int(rng.integers(2, 6))
    sizes = (D, *[int(rng.integers(2, 12)) for _ in range(depth - 1)], K)
    activation = str(rng.choice(["tanh", "sigmoid", "relu"]))
    dtype = np.float32 if rng.random() < 0.3 else np.float64
    reg = float(rng.choice([0.0, 0.0, 1e-3, 0.1]))
    B = int(rng.choice([1, 2, 5, 16, 40]))
    model = models.MLP(sizes, activation=activation, dtype=dtype, seed=seed, reg=reg)
    X, y = clusters(B=B, D=D, K=K, seed=seed)
    return model, (X, y), f"{sizes} {activation} {np.dtype(dtype).name} reg={reg} B={B}"


@pytest.mark.parametrize("seed", range(FAMILY))
def test_correct_random_network_has_no_error(seed):
    model, batch, label = random_network(seed)
    report = gk.diagnose(model, batch, lr=0.05)
    assert report.ok, f"{label}\n{report}"


DEFECTS = {
    "sign-flipped": models.GradientSignFlippedInOutputLayer,
    "doubled-softmax-derivative": models.SoftmaxDerivativeAppliedTwice,
    "missing-batch-average": models.GradientSummedNotAveraged,
}


@pytest.mark.parametrize("seed", range(0, FAMILY, 3))
@pytest.mark.parametrize("code", sorted(DEFECTS))
def test_seeded_defect_is_found_in_random_network(seed, code):
    _, (X, y), label = random_network(seed)
    if code == "missing-batch-average" and len(y) == 1:
        pytest.skip("a batch of one cannot tell a sum from a mean")
    rng = np.random.default_rng(seed)
    sizes = (X.shape[1], *[int(rng.integers(3, 10))], int(y.max()) + 1 if y.max() >= 1 else 2)
    model = DEFECTS[code](sizes, activation="tanh", seed=seed)
    report = gk.diagnose(model, (X, y % sizes[-1]))
    assert not report.ok, label
    assert code in report.codes(), f"{label}: {report.codes()}"
