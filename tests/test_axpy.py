"""`numeric.axpy.add_scaled`: ``y += a·x`` in place, through BLAS for large float64 arrays, else numpy."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_kit.numeric import axpy
from gradcheck_kit.numeric.axpy import add_scaled


def _pair(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)


def test_a_large_float64_update_is_in_place_and_within_one_rounding_of_numpys():
    y, x = _pair((300, 70))  # above BLAS_FROM: the BLAS path
    assert y.size >= axpy.BLAS_FROM
    expected, x_before, buffer = y + (-0.37) * x, x.copy(), y
    add_scaled(y, -0.37, x)
    assert y is buffer and np.shares_memory(y, buffer)
    np.testing.assert_array_equal(x, x_before)  # x is only read
    # a fused multiply-add may round once instead of twice: at most one ulp of the larger term apart
    assert np.all(np.abs(y - expected) <= np.spacing(np.maximum(np.abs(expected), np.abs(0.37 * x))))
    assert not np.array_equal(y, x_before)


@pytest.mark.parametrize("case", ["float32", "strided", "small", "same array", "other shape"])
def test_every_other_update_is_numpys_exactly(case):
    y, x = _pair((300, 70), np.float32 if case == "float32" else np.float64)
    if case == "strided":
        y, x = y[:, ::2], x[:, ::2]
    elif case == "small":
        y, x = y[:2], x[:2]
    elif case == "same array":
        x = y
    elif case == "other shape":
        x = x[0]  # broadcast along the rows, as numpy's update does
    expected = y + np.asarray(-0.25, dtype=y.dtype) * x if case == "float32" else y + (-0.25) * x
    add_scaled(y, -0.25, x)
    np.testing.assert_array_equal(y, expected)
    assert y.dtype == expected.dtype


def test_slice_by_slice_equals_the_whole_update(monkeypatch):
    monkeypatch.setattr(axpy, "SLICE", 7)
    monkeypatch.setattr(axpy, "BLAS_FROM", 10**9)  # keep it on numpy's path, in slices of 7 entries
    y, x = _pair((13, 11))
    expected = y + 1.5 * x
    add_scaled(y, 1.5, x)
    np.testing.assert_array_equal(y, expected)


def test_non_finite_entries_propagate_as_in_numpy():
    y, x = _pair(5000)
    x[[3, 10, 4000]] = [np.nan, np.inf, -np.inf]
    add_scaled(y, 0.5, x)
    assert np.isnan(y[3]) and y[10] == np.inf and y[4000] == -np.inf
    assert np.isfinite(np.delete(y, [3, 10, 4000])).all()
