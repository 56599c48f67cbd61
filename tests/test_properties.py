"""Property-based: any batch (shapes, dtypes, NaN/inf, odd labels, huge or tiny values) ends in a report
or in the kit's own exception — never another exception, never a changed model.

Generated cases per run (CI): EXAMPLES per test below, 3 tests → 3 × EXAMPLES.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradcheck_kit as gk
from tests import models
from tests.conftest import assert_unchanged, snapshot

EXAMPLES = 150
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DTYPES = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.bool_, object])
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-1e300, max_value=1e300),
    st.floats(min_value=-1e-300, max_value=1e-300),
    st.integers(-300, 300).map(float),
)


def arrays(shape_strategy):
    return DTYPES.flatmap(lambda dtype: hnp.arrays(
        dtype=dtype if dtype is not object else np.float64, shape=shape_strategy,
        elements=VALUES if np.dtype(dtype if dtype is not object else np.float64).kind == "f" else None,
    ).map(lambda a, dtype=dtype: a.astype(object) if dtype is object else a))


def check_outcome(model, batch, **options):
    before = snapshot(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            report = gk.diagnose(model, batch, **options)
        except gk.GradcheckError:
            report = None
    assert_unchanged(model, before)
    if report is not None:
        assert isinstance(report.ok, bool) and report.to_dict()["schema"] == "gradcheck_kit.report/2"


@PROPERTY
@given(X=arrays(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7)),
       y=arrays(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=7)))
def test_any_batch_gives_a_report_or_the_kits_own_error(X, y):
    check_outcome(models.MLP((6, 5, 3)), (X, y), max_entries=3, probes=1)


@PROPERTY
@given(B=st.integers(1, 9),
       labels=st.one_of(st.integers(-3, 6), st.floats(-2, 5), st.just(float("nan"))),
       scale=st.sampled_from([1.0, 1e-200, 1e200, 1e-8, 1e8]),
       onehot=st.booleans())
def test_labels_and_magnitudes(B, labels, scale, onehot):
    rng = np.random.default_rng(B)
    X = rng.normal(size=(B, 6)) * scale
    y = np.full(B, labels)
    if onehot:
        y = np.eye(4)[np.clip(np.nan_to_num(y).astype(int), 0, 3)]
    check_outcome(models.MLP((6, 5, 3)), (X, y), max_entries=3, probes=1)


@PROPERTY
@given(model_kind=st.sampled_from(["object", "cs231n", "self", "layers"]),
       X=hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.just(6)),
                    elements=st.floats(-1e6, 1e6, allow_nan=False)),
       lr=st.sampled_from([None, 1e-3, 10.0, 1e6]))
def test_model_styles_with_extreme_inputs_and_lrs(model_kind, X, lr):
    from tests import layers_models as L

    y = np.arange(len(X)) % 3
    model = {"object": lambda: models.MLP((6, 5, 3)), "cs231n": lambda: models.CS231nNet(D=6, H=5, K=3),
             "self": lambda: models.SelfTrainingNet(D=6, H=5, K=3),
             "layers": lambda: [L.Dense(6, 5), L.Tanh(), L.Dense(5, 3, seed=1), L.SoftmaxCrossEntropy()]}[model_kind]()
    if isinstance(model, list):
        befores = [snapshot(layer) for layer in model]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(gk.GradcheckError):
                gk.diagnose(model, (X, y), lr=lr, max_entries=3, probes=1)
        for layer, before in zip(model, befores):
            assert_unchanged(layer, before)
    else:
        check_outcome(model, (X, y), lr=lr, max_entries=3, probes=1)

