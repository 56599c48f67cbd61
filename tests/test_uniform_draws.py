"""`numeric.sampling.uniform_signs` converts PCG64's raw outputs itself for large tensors: the same
numbers as ``2 · rng.random(dtype=np.float32) - 1``, bit for bit, and the generator left in the same state
(so every draw after it is unchanged too)."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_kit.numeric import sampling
from gradcheck_kit.numeric.sampling import uniform_signs


def _observable(rng):
    """The generator's state as it bears on later draws (numpy leaves a spent half-output's bits behind)."""
    state = rng.bit_generator.state
    return state["state"], state["has_uint32"], state["uinteger"] if state["has_uint32"] else None


def _numpys(rng, shape):
    r = rng.random(shape, dtype=np.float32)
    return r * np.float32(2) - np.float32(1)


@pytest.mark.parametrize("size", [1, 2, 7, 64, 65, 3 * 64 + 17, 4 * 64])  # one, odd, whole chunks, partial
@pytest.mark.parametrize("into", [False, True])
def test_fast_draw_is_numpys_draw_bit_for_bit_and_leaves_the_same_state(monkeypatch, size, into):
    monkeypatch.setattr(sampling, "FAST_DRAW", 1)
    monkeypatch.setattr(sampling, "DRAW_CHUNK", 64)
    fast, slow = np.random.default_rng(11), np.random.default_rng(11)
    for _ in range(3):  # an odd size leaves half an output behind: the next draw must start from it
        out = np.full(size, np.nan, dtype=np.float32) if into else None
        got = uniform_signs(fast, (size,), out=out)
        expected = _numpys(slow, (size,))
        assert got.dtype == np.float32 and got.shape == (size,)
        np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
        if into:
            assert got is out
    assert _observable(fast) == _observable(slow)
    np.testing.assert_array_equal(fast.normal(size=5), slow.normal(size=5))


def test_values_are_in_minus_one_to_one_and_shaped(monkeypatch):
    monkeypatch.setattr(sampling, "FAST_DRAW", 1)
    monkeypatch.setattr(sampling, "DRAW_CHUNK", 128)
    signs = uniform_signs(np.random.default_rng(0), (30, 41))
    assert signs.shape == (30, 41) and signs.min() >= -1 and signs.max() < 1
    assert abs(float(signs.mean())) < 0.05


def test_other_generators_and_a_held_back_half_output_take_numpys_draw(monkeypatch):
    monkeypatch.setattr(sampling, "FAST_DRAW", 1)
    for make in (lambda: np.random.Generator(np.random.MT19937(3)), lambda: np.random.default_rng(3)):
        a, b = make(), make()
        if isinstance(a.bit_generator, np.random.PCG64):
            a.random(dtype=np.float32)  # half an output held back: the fast draw cannot start mid-output
            b.random(dtype=np.float32)
        np.testing.assert_array_equal(uniform_signs(a, (9,)), _numpys(b, (9,)))
