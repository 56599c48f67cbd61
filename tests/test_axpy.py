"""`numeric.axpy`: ``y += a·x`` in place (`add_scaled`) and ``out = base + a·x`` (`put_moved`), bit for bit
numpy's arithmetic, slice by slice when large."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gradcheck_kit.numeric import axpy
from gradcheck_kit.numeric.axpy import add_scaled, put_moved


def _pair(shape, dtypes=(np.float64, np.float64), seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape).astype(dtypes[0]), rng.normal(size=shape).astype(dtypes[1])


CASES = {
    "float64": (np.float64, np.float64),
    "float32": (np.float32, np.float32),
    "float32 weights, float64 gradient": (np.float32, np.float64),
    "float64 weights, float32 gradient": (np.float64, np.float32),
}


@pytest.mark.parametrize("dtypes", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("size", [5, 40, 1 << 10, 3 * (1 << 10) + 17])  # numpy's, one slice, exactly one, several
def test_slice_by_slice_is_numpys_update_bit_for_bit(monkeypatch, dtypes, size):
    monkeypatch.setattr(axpy, "SLICE", 1 << 10)
    monkeypatch.setattr(axpy, "SMALL", 32)
    y, x = _pair(size, dtypes)
    expected, x_before, buffer = y.copy(), x.copy(), y
    expected += -0.37 * x
    add_scaled(y, -0.37, x)
    assert y is buffer and y.dtype == dtypes[0]  # in place
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(x, x_before)  # x is only read


@pytest.mark.parametrize("case", ["strided", "same array", "broadcast row"])
def test_other_layouts_take_numpys_own_update(monkeypatch, case):
    monkeypatch.setattr(axpy, "SLICE", 8)
    monkeypatch.setattr(axpy, "SMALL", 4)
    y, x = _pair((30, 20))
    if case == "strided":
        y, x = y[:, ::2], x[:, ::2]
    elif case == "same array":
        x = y
    else:
        x = x[0]
    expected = y + 1.5 * x
    add_scaled(y, 1.5, x)
    np.testing.assert_array_equal(y, expected)


def test_non_finite_entries_propagate_as_in_numpy(monkeypatch):
    monkeypatch.setattr(axpy, "SLICE", 64)
    monkeypatch.setattr(axpy, "SMALL", 4)
    y, x = _pair(5000)
    x[[3, 10, 4000]] = [np.nan, np.inf, -np.inf]
    add_scaled(y, 0.5, x)
    assert np.isnan(y[3]) and y[10] == np.inf and y[4000] == -np.inf
    assert np.isfinite(np.delete(y, [3, 10, 4000])).all()


def test_one_temporary_per_thread_and_dtype_is_reused(monkeypatch):
    """Hundreds of replay updates take no new temporary each: a large one would be fresh pages every time."""
    monkeypatch.setattr(axpy, "SLICE", 64)
    monkeypatch.setattr(axpy, "SMALL", 4)
    seen = []
    real = axpy._temporary
    monkeypatch.setattr(axpy, "_temporary", lambda dtype: seen.append(real(dtype)) or seen[-1])
    for seed in range(3):
        y, x = _pair(200, seed=seed)
        add_scaled(y, 0.5, x)
    y32, x32 = _pair(200, (np.float32, np.float32))
    add_scaled(y32, 0.5, x32)
    assert seen[0] is seen[1] is seen[2] and seen[0].dtype == np.float64 and seen[0].size >= 64
    assert seen[3].dtype == np.float32
    other = []
    thread = threading.Thread(target=lambda: other.append(real(np.dtype(np.float64))))
    thread.start()
    thread.join()
    assert other[0] is not seen[0]  # another thread's updates do not share it
    monkeypatch.setattr(axpy, "SLICE", 2 * seen[0].size)
    assert real(np.dtype(np.float64)).size == 2 * seen[0].size  # a larger slice gets a larger temporary


MOVES = {
    "float64 tensor, float32 direction": (np.float64, np.float32),  # the kit's random directions
    "float64 tensor, float64 direction": (np.float64, np.float64),  # structured ones, whole-model moves
    "float32 tensor, float32 direction": (np.float32, np.float32),  # a float32 model: h·u rounded to float32
}


@pytest.mark.parametrize("dtypes", MOVES.values(), ids=MOVES.keys())
@pytest.mark.parametrize("size", [5, 40, 1 << 10, 3 * (1 << 10) + 17])
@pytest.mark.parametrize("a", [1e-5, -2.5e-3])
def test_moved_tensor_is_the_two_step_numpy_move_bit_for_bit(monkeypatch, dtypes, size, a):
    """What `Perturber.direction` and `WholeMove.to` wrote before they went slice by slice."""
    monkeypatch.setattr(axpy, "SLICE", 1 << 10)
    monkeypatch.setattr(axpy, "SMALL", 32)
    base, x = _pair(size, dtypes)
    base_before, x_before = base.copy(), x.copy()
    expected = np.empty_like(base)
    np.multiply(x, a, out=expected, dtype=np.float64, casting="same_kind")
    expected += base
    out = np.full_like(base, np.nan)
    put_moved(out, base, a, x)
    assert out.dtype == base.dtype
    np.testing.assert_array_equal(out.view(np.uint8), expected.view(np.uint8))  # bitwise, signed zeros included
    np.testing.assert_array_equal(base, base_before)  # only read
    np.testing.assert_array_equal(x, x_before)


def test_moved_tensor_of_other_layouts_takes_the_two_step_move(monkeypatch):
    monkeypatch.setattr(axpy, "SLICE", 8)
    monkeypatch.setattr(axpy, "SMALL", 4)
    base, x = _pair((30, 20))
    out = np.zeros((20, 30)).T  # Fortran-ordered: no flat slices of it line up with base's
    put_moved(out, base, 0.25, x)
    np.testing.assert_array_equal(out, base + 0.25 * x)
    strided = np.zeros((30, 40))[:, ::2]
    put_moved(strided, base, 0.25, x)
    np.testing.assert_array_equal(strided, base + 0.25 * x)
